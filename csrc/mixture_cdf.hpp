// The integer CDF of a logistic mixture: the definition every .l3c stream rests on
// (docs/FORMAT.md, "Distributions"). Encoder and decoder both evaluate cdf(b) only
// through MixtureCdf::At, so they cannot disagree; how the decoder searches it
// quickly is logistic_mixture.hpp's business, and never changes a value.
//
// Per symbol: K discretized logistics, given as integers (weights summing to 2^12,
// means in 1/256 bin, inverse scales in 1/4096 per bin). For an alphabet of L
// symbols and precision P:
//   cdf(0) = 0, cdf(L) = 2^P, and for 0 < b < L
//   cdf(b) = floor(sum_k w_k S(x_kb) * (2^P - L) / 2^28) + b,
//   x_kb = (256 b - 128 - mean_k) * inv_scale_k / 2^20,
// where S is the tabulated sigmoid (sigmoid_table.hpp) with linear interpolation.
// The "+ b" keeps every symbol's probability at least 2^-P. Integer arithmetic
// only, so every machine computes the same CDF from the same integers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "format_constants.hpp"
#include "inline.hpp"
#include "sigmoid_table.hpp"

namespace pillow_l3c {

// S(x) * 2^16 for x given in units of 2^-20, by linear interpolation in the table.
PILLOW_L3C_INLINE uint64_t Sigmoid(int64_t x) {
  constexpr int kUnit = kMeanFractionBits + kInvScaleFractionBits;  // 2^-20
  constexpr int kStepShift = kUnit - kSigmoidStepBits;                // table step 1/64
  constexpr int64_t kRange = int64_t{kSigmoidRange} << kUnit;
  constexpr int64_t kLastStep = kSigmoidTableSize - 2;
  static_assert(kSigmoidTableSize == 2 * kSigmoidRange * (1 << kSigmoidStepBits) + 1,
                "the table spans [-range, range] in steps of 2^-step_bits");
  static_assert(kSigmoidTable[0] == 0 && kSigmoidTable[1] == 0 &&
                    kSigmoidTable[kLastStep] == kSigmoidTable[kLastStep + 1],
                "the clamp below relies on flat table ends");
  // The format clamps x to the table's domain [-16, 16]. Clamping the table step
  // instead is the same, and cheaper (small constants, one clamp on a shifted
  // value): beyond either end the step is the first or last one, whose two
  // entries are equal, so the interpolation returns that entry whatever `frac`.
  const int64_t u = x + kRange;
  const size_t idx = static_cast<size_t>(
      std::min(std::max(u, int64_t{0}) >> kStepShift, kLastStep));
  const uint64_t frac = static_cast<uint64_t>(u) & ((uint64_t{1} << kStepShift) - 1);
  const uint64_t a = kSigmoidTable[idx], b = kSigmoidTable[idx + 1];
  return a + (((b - a) * frac) >> kStepShift);
}

class MixtureCdf {
 public:
  // REQUIRES: weights, means and inv_scales are (n, mixtures) row-major arrays, so
  // that the parameters of one symbol are contiguous; 1 <= mixtures <= kMaxMixtures.
  MixtureCdf(const int32_t* weights, const int32_t* means, const int32_t* inv_scales,
             size_t n, int mixtures, int alphabet, int precision)
      : w_(weights), mu_(means), inv_(inv_scales), n_(n), k_(mixtures),
        alphabet_(alphabet), precision_(precision),
        mass_((uint64_t{1} << precision) - static_cast<uint64_t>(alphabet)),
        top_(uint32_t{1} << precision) {}

  // Rejects parameters outside the ranges for which the integer CDF is exact and
  // strictly increasing (std::invalid_argument, naming the entry): weights >= 0
  // summing to 2^kWeightBits per symbol, so that the normalisation in At is a
  // shift; |mean| <= kMaxAbsMean and 0 <= inv_scale <= kMaxInvScale, so that
  // (edge - mean) * inv_scale stays far inside int64.
  void Validate() const {
    for (size_t i = 0; i < n_; ++i) {
      int64_t total = 0;
      for (int k = 0; k < k_; ++k) {
        const size_t j = i * static_cast<size_t>(k_) + static_cast<size_t>(k);
        CheckRange("weights", i, k, w_[j], 0, int64_t{1} << kWeightBits);
        CheckRange("means", i, k, mu_[j], -kMaxAbsMean, kMaxAbsMean);
        CheckRange("inv_scales", i, k, inv_[j], 0, kMaxInvScale);
        total += w_[j];
      }
      if (total != (int64_t{1} << kWeightBits)) {
        throw std::invalid_argument("weights[" + std::to_string(i) + "] sum to " +
                                    std::to_string(total) + "; each row must sum to " +
                                    std::to_string(1 << kWeightBits));
      }
    }
  }

  // cdf(b) for 0 <= b <= alphabet, as defined above; strictly increasing in b for
  // validated parameters. kK > 0 fixes K at compile time (the caller promises
  // kK == mixtures()), so that the loop over the components unrolls. The fixed
  // ends cdf(0) and cdf(L) are selected after the pass rather than returned early,
  // so that a caller evaluating two symbols keeps one stretch of straight code.
  template <int kK = 0>
  PILLOW_L3C_INLINE uint32_t At(size_t i, int b) const {
    const int inner = std::min(std::max(b, 1), alphabet_ - 1);  // 0 if L = 1: harmless
    const int K = Components<kK>();
    const size_t row = i * static_cast<size_t>(K);
    const int32_t* w = w_ + row;
    const int32_t* mu = mu_ + row;
    const int32_t* inv = inv_ + row;
    const int64_t edge =
        (int64_t{inner} << kMeanFractionBits) - (int64_t{1} << (kMeanFractionBits - 1));
    uint64_t a = 0;
    for (int k = 0; k < K; ++k) {
      a += static_cast<uint64_t>(w[k]) * Sigmoid((edge - mu[k]) * inv[k]);
    }
    // sum_k w_k = 2^12 and S <= 2^16, so the normalisation is a shift.
    const uint32_t c = static_cast<uint32_t>((a * mass_) >> (kWeightBits + kSigmoidBits)) +
                       static_cast<uint32_t>(inner);
    return b <= 0 ? 0 : b >= alphabet_ ? top_ : c;
  }

  // The number of components: kK when the caller fixed it at compile time (kK > 0),
  // else the runtime K.
  template <int kK>
  PILLOW_L3C_INLINE int Components() const {
    return kK > 0 ? kK : k_;
  }

  int mixtures() const { return k_; }
  int alphabet() const { return alphabet_; }
  int precision() const { return precision_; }
  uint32_t top() const { return top_; }  // 2^precision = cdf(alphabet)
  const int32_t* weights() const { return w_; }
  const int32_t* means() const { return mu_; }
  const int32_t* inv_scales() const { return inv_; }

 private:
  // Raises unless lo <= value <= hi; `name`[i, k] names the entry.
  static void CheckRange(const char* name, size_t i, int k, int32_t value, int64_t lo,
                         int64_t hi) {
    if (value < lo || value > hi) {
      throw std::invalid_argument(std::string(name) + "[" + std::to_string(i) + ", " +
                                  std::to_string(k) + "] = " + std::to_string(value) +
                                  " is outside " + std::to_string(lo) + " .. " +
                                  std::to_string(hi));
    }
  }

  const int32_t* w_;
  const int32_t* mu_;
  const int32_t* inv_;
  size_t n_;
  int k_;
  int alphabet_;
  int precision_;
  uint64_t mass_;  // 2^precision - alphabet: the mass the sigmoids share
  uint32_t top_;
};

}  // namespace pillow_l3c
