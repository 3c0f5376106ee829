// The two kinds of per-symbol distributions the coder understands, and the generic
// encode/decode loops over them.
//
// 1. CdfTable: explicit integer CDF rows (one row per symbol, or one row shared by
//    all symbols). Row convention, for an alphabet of L symbols and precision P:
//    cdf[0] = 0, cdf[L] = 2^P, and symbol s has probability
//    (cdf[s + 1] - cdf[s]) / 2^P, which must be positive.
//
// 2. LogisticMixture: K discretized logistics per symbol, given as integers
//    (weights summing to 4096, means in 1/256 bin, inverse scales in 1/4096 per
//    bin). The CDF is
//    computed on demand from a fixed sigmoid table with integer arithmetic only, so
//    the full table of an image is never built and every machine computes the same
//    CDF from the same integers:
//      cdf(0) = 0, cdf(L) = 2^P, and for 0 < b < L
//      cdf(b) = floor(sum_k w_k S(x_kb) * (2^P - L) / 2^28) + b,
//      x_kb = (256 b - 128 - mean_k) * inv_scale_k / 2^20,
//    where S is the tabulated sigmoid (sigmoid_table.hpp) with linear interpolation.
//    The "+ b" keeps every symbol's probability at least 2^-P.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "rans.hpp"
#include "sigmoid_table.hpp"

namespace pillow_l3c {

struct Interval {
  uint32_t start;
  uint32_t freq;
};

class CdfTable {
 public:
  // REQUIRES: `cdf` holds `rows` rows of `alphabet + 1` entries; rows == 1 shares
  // the row among all symbols.
  CdfTable(const int32_t* cdf, size_t rows, int alphabet, int precision)
      : cdf_(cdf), rows_(rows), stride_(static_cast<size_t>(alphabet) + 1),
        alphabet_(alphabet), precision_(precision) {}

  // Checked: a symbol outside the alphabet or a row whose interval is not inside
  // [0, 2^P) with positive width raises std::invalid_argument.
  inline Interval Encode(size_t i, int32_t symbol) const {
    if (symbol < 0 || symbol >= alphabet_) {
      throw std::invalid_argument("symbol " + std::to_string(symbol) + " at index " +
                                  std::to_string(i) + " is outside the alphabet");
    }
    const int32_t* row = Row(i);
    const int64_t lo = row[symbol], hi = row[symbol + 1];
    if (lo < 0 || hi <= lo || hi > (int64_t{1} << precision_)) {
      throw std::invalid_argument("CDF row " + std::to_string(i) +
                                  " gives symbol " + std::to_string(symbol) +
                                  " no valid interval");
    }
    return {static_cast<uint32_t>(lo), static_cast<uint32_t>(hi - lo)};
  }

  // The symbol whose interval holds `slot`; raises CorruptStreamError when the row
  // has none (possible only for a CDF that is not monotone).
  inline int32_t Decode(size_t i, uint32_t slot, Interval* out) const {
    const int32_t* row = Row(i);
    // Branchless search for the last entry <= slot among row[0 .. alphabet).
    const int32_t* base = row;
    int count = alphabet_;
    const int64_t key = slot;
    while (count > 1) {
      const int half = count >> 1;
      base = (static_cast<int64_t>(base[half]) <= key) ? base + half : base;
      count -= half;
    }
    const int lo = static_cast<int>(base - row);
    const int64_t a = row[lo], b = row[lo + 1];
    if (a > slot || b <= static_cast<int64_t>(slot) || a < 0) {
      throw CorruptStreamError("CDF row " + std::to_string(i) + " is not monotone");
    }
    *out = {static_cast<uint32_t>(a), static_cast<uint32_t>(b - a)};
    return lo;
  }

  int precision() const { return precision_; }

 private:
  inline const int32_t* Row(size_t i) const {
    return cdf_ + (rows_ == 1 ? 0 : i * stride_);
  }
  const int32_t* cdf_;
  size_t rows_;
  size_t stride_;
  int alphabet_;
  int precision_;
};

constexpr int kMeanFraction = 8;       // means in 1/256 bin
constexpr int kInvScaleFraction = 12;  // inverse scales in 1/4096 per bin
constexpr int kWeightBits = 12;        // the weights of one mixture sum to 2^12
constexpr int64_t kMaxAbsMean = int64_t{1} << 28;
constexpr int64_t kMaxInvScale = int64_t{1} << 20;

class LogisticMixture {
 public:
  // REQUIRES: weights, means and inv_scales are (n, mixtures) row-major arrays, so
  // that the parameters of one symbol are contiguous.
  LogisticMixture(const int32_t* weights, const int32_t* means,
                  const int32_t* inv_scales, size_t n, int mixtures, int alphabet,
                  int precision)
      : w_(weights), mu_(means), inv_(inv_scales), n_(n), k_(mixtures),
        alphabet_(alphabet), precision_(precision) {}

  // Rejects parameters outside the ranges for which the integer CDF is exact and
  // strictly increasing (std::invalid_argument).
  void Validate() const {
    for (size_t i = 0; i < n_; ++i) {
      int64_t total = 0;
      for (int k = 0; k < k_; ++k) {
        const size_t j = i * static_cast<size_t>(k_) + static_cast<size_t>(k);
        if (w_[j] < 0 || inv_[j] < 0 || inv_[j] > kMaxInvScale ||
            mu_[j] < -kMaxAbsMean || mu_[j] > kMaxAbsMean) {
          throw std::invalid_argument("mixture parameter out of range at index " +
                                      std::to_string(i));
        }
        total += w_[j];
      }
      if (total != (int64_t{1} << kWeightBits)) {
        throw std::invalid_argument("mixture weights at index " + std::to_string(i) +
                                    " must sum to 4096");
      }
    }
  }

  inline Interval Encode(size_t i, int32_t symbol) const {
    if (symbol < 0 || symbol >= alphabet_) {
      throw std::invalid_argument("symbol " + std::to_string(symbol) + " at index " +
                                  std::to_string(i) + " is outside the alphabet");
    }
    uint32_t lo, hi;
    CdfPair(i, symbol, &lo, &hi);
    return {lo, hi - lo};
  }

  // Finds s with cdf(s) <= slot < cdf(s + 1). The search starts from a guess (the
  // dominant component's inverse CDF at the slot) and gallops outwards; the guess
  // only decides how fast the exact integer comparisons find s, never which s.
  inline int32_t Decode(size_t i, uint32_t slot, Interval* out) const {
    int lo = 0, hi = alphabet_;  // invariant: cdf(lo) <= slot < cdf(hi)
    uint32_t clo = 0, chi = uint32_t{1} << precision_;
    const int g = Guess(i, slot);
    uint32_t cg, cg1;
    CdfPair(i, g, &cg, &cg1);  // the guess is usually right: one pass decides it
    if (cg <= slot && slot < cg1) {
      *out = {cg, cg1 - cg};
      return g;
    }
    if (cg <= slot) {  // then slot >= cdf(g + 1): search upwards from g + 1
      lo = g + 1;
      clo = cg1;
      for (int step = 1; lo + step < hi; step <<= 1) {
        const uint32_t c = Cdf(i, lo + step);
        if (c > slot) {
          hi = lo + step;
          chi = c;
          break;
        }
        lo += step;
        clo = c;
      }
    } else {
      hi = g;
      chi = cg;
      for (int step = 1; hi - step > lo; step <<= 1) {
        const uint32_t c = Cdf(i, hi - step);
        if (c <= slot) {
          lo = hi - step;
          clo = c;
          break;
        }
        hi -= step;
        chi = c;
      }
    }
    while (hi - lo > 1) {
      const int mid = (lo + hi) >> 1;
      const uint32_t c = Cdf(i, mid);
      if (c <= slot) {
        lo = mid;
        clo = c;
      } else {
        hi = mid;
        chi = c;
      }
    }
    *out = {clo, chi - clo};
    return lo;
  }

  int precision() const { return precision_; }

  // cdf(b) as documented above; strictly increasing in b for validated parameters.
  inline uint32_t Cdf(size_t i, int b) const {
    if (b <= 0) return 0;
    if (b >= alphabet_) return uint32_t{1} << precision_;
    // sum_k w_k = 2^12 and S <= 2^16, so the normalisation is a shift.
    return static_cast<uint32_t>((Accumulate(i, b) * Mass()) >> (kWeightBits + 16)) +
           static_cast<uint32_t>(b);
  }


 private:
  inline uint64_t Mass() const {
    return (uint64_t{1} << precision_) - static_cast<uint64_t>(alphabet_);
  }

  // cdf(b) and cdf(b + 1) in one pass over the components (0 <= b < alphabet).
  inline void CdfPair(size_t i, int b, uint32_t* lo, uint32_t* hi) const {
    const int64_t edge = (int64_t{b} << kMeanFraction) - (int64_t{1} << (kMeanFraction - 1));
    const int64_t step = int64_t{1} << kMeanFraction;
    const int32_t* w = w_ + i * static_cast<size_t>(k_);
    const int32_t* mu = mu_ + i * static_cast<size_t>(k_);
    const int32_t* inv = inv_ + i * static_cast<size_t>(k_);
    uint64_t a = 0, c = 0;
    for (int k = 0; k < k_; ++k) {
      const int64_t d = (edge - mu[k]) * inv[k];
      a += static_cast<uint64_t>(w[k]) * Sigmoid(d);
      c += static_cast<uint64_t>(w[k]) * Sigmoid(d + step * inv[k]);
    }
    const int shift = kWeightBits + 16;
    *lo = b <= 0 ? 0 : static_cast<uint32_t>((a * Mass()) >> shift) + static_cast<uint32_t>(b);
    *hi = b + 1 >= alphabet_ ? uint32_t{1} << precision_
                             : static_cast<uint32_t>((c * Mass()) >> shift) +
                                   static_cast<uint32_t>(b + 1);
  }

  inline uint64_t Accumulate(size_t i, int b) const {
    const int64_t edge = (int64_t{b} << kMeanFraction) - (int64_t{1} << (kMeanFraction - 1));
    const int32_t* w = w_ + i * static_cast<size_t>(k_);
    const int32_t* mu = mu_ + i * static_cast<size_t>(k_);
    const int32_t* inv = inv_ + i * static_cast<size_t>(k_);
    uint64_t a = 0;
    for (int k = 0; k < k_; ++k) {
      a += static_cast<uint64_t>(w[k]) * Sigmoid((edge - mu[k]) * inv[k]);
    }
    return a;
  }

  // A starting point for the search; any value in [0, alphabet) is correct. It is
  // the inverse CDF of one logistic with the mixture's mean and variance, which is
  // close to the mixture's own for the unimodal mixtures photos produce.
  inline int Guess(size_t i, uint32_t slot) const {
    const int32_t* w = w_ + i * static_cast<size_t>(k_);
    const int32_t* mu = mu_ + i * static_cast<size_t>(k_);
    const int32_t* inv = inv_ + i * static_cast<size_t>(k_);
    constexpr float kMeanUnit = 1.0f / (1 << kMeanFraction);
    constexpr float kScaleUnit = 1 << kInvScaleFraction;
    float m1 = 0, m2 = 0;
    for (int k = 0; k < k_; ++k) {
      const float m = static_cast<float>(mu[k]) * kMeanUnit;
      const float sc = kScaleUnit / static_cast<float>(std::max(inv[k], 1));
      const float wk = static_cast<float>(w[k]);
      m1 += wk * m;
      m2 += wk * (m * m + 3.2898681f * sc * sc);  // logistic variance pi^2/3 s^2
    }
    constexpr float kInvTotal = 1.0f / (1 << kWeightBits);
    const float mean = m1 * kInvTotal;
    const float var = std::max(m2 * kInvTotal - mean * mean, 1e-6f);
    const float scale = std::sqrt(var) * 0.5513289f;  // sqrt(3) / pi
    const float u = (static_cast<float>(slot) + 0.5f) / static_cast<float>(uint32_t{1} << precision_);
    const float x = mean + scale * std::log(u / (1.0f - u));
    const float clamped = std::min(std::max(x + 0.5f, 0.0f), static_cast<float>(alphabet_ - 1));
    return static_cast<int>(clamped);
  }

  // S(x) * 2^16 for x given in units of 2^-20, by linear interpolation in the table.
  static inline uint64_t Sigmoid(int64_t x) {
    constexpr int kUnit = kMeanFraction + kInvScaleFraction;  // 2^-20
    constexpr int kStepShift = kUnit - 6;                      // table step 1/64
    constexpr int64_t kRange = int64_t{16} << kUnit;
    // Branch-free clamp to the table's domain; both ends are exact table entries.
    const int64_t c = std::min(std::max(x, -kRange), kRange - 1);
    const uint64_t u = static_cast<uint64_t>(c + kRange);
    const size_t idx = static_cast<size_t>(u >> kStepShift);
    const uint64_t frac = u & ((uint64_t{1} << kStepShift) - 1);
    const uint64_t a = kSigmoidTable[idx], b = kSigmoidTable[idx + 1];
    const uint64_t y = a + (((b - a) * frac) >> kStepShift);
    return x >= kRange ? kSigmoidTable[kSigmoidTableSize - 1] : y;
  }

  const int32_t* w_;
  const int32_t* mu_;
  const int32_t* inv_;
  size_t n_;
  int k_;
  int alphabet_;
  int precision_;
};

// Encodes symbols[0..n) under `dist` (any class with Encode/precision()).
template <typename Dist>
std::vector<uint8_t> EncodeSymbols(const int32_t* symbols, size_t n, const Dist& dist) {
  RansEncoder enc;
  const int p = dist.precision();
  for (size_t i = n; i-- > 0;) {
    const Interval iv = dist.Encode(i, symbols[i]);
    enc.Put(static_cast<int>(i & 1), iv.start, iv.freq, p);
  }
  return enc.Finish();
}

// Decodes n symbols into `out`; raises CorruptStreamError on a bad stream.
template <typename Dist>
void DecodeSymbols(const uint8_t* data, size_t size, size_t n, const Dist& dist,
                   int32_t* out) {
  RansDecoder dec(data, size);
  const int p = dist.precision();
  for (size_t i = 0; i < n; ++i) {
    const int lane = static_cast<int>(i & 1);
    Interval iv;
    out[i] = dist.Decode(i, dec.Peek(lane, p), &iv);
    dec.Advance(lane, iv.start, iv.freq, p);
  }
  dec.Finish();
}

}  // namespace pillow_l3c
