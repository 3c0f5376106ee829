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
constexpr int kMaxMixtures = 64;       // K <= 64

class LogisticMixture {
 public:
  // REQUIRES: weights, means and inv_scales are (n, mixtures) row-major arrays, so
  // that the parameters of one symbol are contiguous; 1 <= mixtures <= kMaxMixtures.
  LogisticMixture(const int32_t* weights, const int32_t* means,
                  const int32_t* inv_scales, size_t n, int mixtures, int alphabet,
                  int precision)
      : w_(weights), mu_(means), inv_(inv_scales), n_(n), k_(mixtures),
        alphabet_(alphabet), precision_(precision),
        mass_((uint64_t{1} << precision) - static_cast<uint64_t>(alphabet)),
        top_(uint32_t{1} << precision),
        max_edge_(static_cast<float>(std::max(alphabet - 1, 1))) {}

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

  PILLOW_L3C_INLINE Interval Encode(size_t i, int32_t symbol) const {
    if (symbol < 0 || symbol >= alphabet_) ThrowOutsideAlphabet(i, symbol);
    uint32_t lo, hi;
    CdfPair(i, symbol, &lo, &hi);
    return {lo, hi - lo};
  }

  // Finds s with cdf(s) <= slot < cdf(s + 1) (DecodeSymbols calls the faster
  // DecodeStream instead; this is the same search for one symbol).
  inline int32_t Decode(size_t i, uint32_t slot, Interval* out) const {
    float mean, scale;
    Moments<0>(i, 1, &mean, &scale);
    return DecodeOne<0>(i, slot, mean, scale, LogitTable(), out);
  }

  // Decodes symbols[0..n) of a stream of EncodeSymbols into `out`; raises
  // CorruptStreamError on a bad stream.
  void DecodeStream(const uint8_t* data, size_t size, size_t n, int32_t* out) const {
    // The common K get their own instance, in which the loops over the components
    // unroll completely and the work of two symbols interleaves without spilling
    // loop counters.
    switch (k_) {
      case 5:
        return DecodeLoop<5>(data, size, n, out);
      case 10:
        return DecodeLoop<10>(data, size, n, out);
      default:
        return DecodeLoop<0>(data, size, n, out);
    }
  }

  int precision() const { return precision_; }

  // cdf(b) as documented above; strictly increasing in b for validated parameters.
  inline uint32_t Cdf(size_t i, int b) const { return CdfAt<0>(i, b); }

 private:
  inline uint64_t Mass() const { return mass_; }

  // Out of line, so that Encode stays small enough for the compiler to inline it
  // into EncodeSymbols' loop.
  [[noreturn]] static void ThrowOutsideAlphabet(size_t i, int32_t symbol) {
    throw std::invalid_argument("symbol " + std::to_string(symbol) + " at index " +
                                std::to_string(i) + " is outside the alphabet");
  }

  // The number of components: kK when the caller fixed it at compile time (kK > 0),
  // which lets the compiler unroll the loops over them, else the runtime K.
  template <int kK>
  inline int Components() const {
    return kK > 0 ? kK : k_;
  }

  // cdf(b) and cdf(b + 1) in one pass over the components (0 <= b < alphabet).
  PILLOW_L3C_INLINE void CdfPair(size_t i, int b, uint32_t* lo, uint32_t* hi) const {
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
    *hi = b + 1 >= alphabet_ ? top_
                             : static_cast<uint32_t>((c * Mass()) >> shift) +
                                   static_cast<uint32_t>(b + 1);
  }

  // cdf(b) for 0 <= b <= alphabet. The fixed ends cdf(0) and cdf(L) are selected
  // after the pass rather than returned early, so that DecodeLoop's two symbols
  // stay one stretch of straight code.
  template <int kK>
  PILLOW_L3C_INLINE uint32_t CdfAt(size_t i, int b) const {
    const int inner = std::min(std::max(b, 1), alphabet_ - 1);  // 0 if L = 1: harmless
    const int K = Components<kK>();
    const size_t row = i * static_cast<size_t>(K);
    const int32_t* w = w_ + row;
    const int32_t* mu = mu_ + row;
    const int32_t* inv = inv_ + row;
    const int64_t edge =
        (int64_t{inner} << kMeanFraction) - (int64_t{1} << (kMeanFraction - 1));
    uint64_t a = 0;
    for (int k = 0; k < K; ++k) {
      a += static_cast<uint64_t>(w[k]) * Sigmoid((edge - mu[k]) * inv[k]);
    }
    // sum_k w_k = 2^12 and S <= 2^16, so the normalisation is a shift.
    const uint32_t c = static_cast<uint32_t>((a * Mass()) >> (kWeightBits + 16)) +
                       static_cast<uint32_t>(inner);
    return b <= 0 ? 0 : b >= alphabet_ ? top_ : c;
  }

  template <int kK>
  void DecodeLoop(const uint8_t* data, size_t size, size_t n, int32_t* out) const {
    RansDecoder dec(data, size);
    const int p = precision_;
    const float* logit = LogitTable();
    // The guess's slot-independent half (Moments) for the first pair.
    float mean[2] = {0, 0}, scale[2] = {0, 0};
    Moments<kK>(0, std::min<size_t>(n, 2), mean, scale);
    size_t i = 0;
    // Symbols i (lane 0) and i + 1 (lane 1) do not depend on each other: each step
    // is written for both, so that the CPU overlaps their two dependency chains.
    // The stream's words are still consumed in order: lane 0 advances first.
    for (; i + 1 < n; i += 2) {
      const uint32_t slot0 = dec.Peek(0, p), slot1 = dec.Peek(1, p);
      const int b0 = GuessEdge(mean[0], scale[0], slot0, logit);
      const int b1 = GuessEdge(mean[1], scale[1], slot1, logit);
      const uint32_t cb0 = CdfAt<kK>(i, b0), cb1 = CdfAt<kK>(i + 1, b1);
      // The next pair's Moments, placed between the CDF passes: it does not depend
      // on them, and its floating-point work fills the integer passes' waits.
      if (i + 2 < n) Moments<kK>(i + 2, std::min<size_t>(n - i - 2, 2), mean, scale);
      const int e0 = cb0 <= slot0 ? b0 + 1 : b0 - 1;
      const int e1 = cb1 <= slot1 ? b1 + 1 : b1 - 1;
      const uint32_t ce0 = CdfAt<kK>(i, e0), ce1 = CdfAt<kK>(i + 1, e1);
      Interval iv0, iv1;
      out[i] = Resolve<kK>(i, slot0, b0, cb0, e0, ce0, &iv0);
      out[i + 1] = Resolve<kK>(i + 1, slot1, b1, cb1, e1, ce1, &iv1);
      dec.Advance(0, iv0.start, iv0.freq, p);
      dec.Advance(1, iv1.start, iv1.freq, p);
    }
    if (i < n) {  // the last symbol of an odd n
      Interval iv;
      out[i] = DecodeOne<kK>(i, dec.Peek(0, p), mean[0], scale[0], logit, &iv);
      dec.Advance(0, iv.start, iv.freq, p);
    }
    dec.Finish();
  }

  // Finds s with cdf(s) <= slot < cdf(s + 1).
  //
  // The float guess (GuessEdge) names the edge b most likely to be the nearest
  // boundary of s, so s is b - 1 or b about 92% of the time for K=5 and 94% for
  // K=10 (the mixtures of benchmarks/coder_speed.py). One exact pass at b says
  // which side s is on; a second pass at the edge e beyond b on that side closes
  // the interval. The side is a conditional move, not a branch, so the usual case
  // costs two CDF evaluations, like Encode, and no mispredicted branch (a 50/50
  // branch on the side costs more than a CDF pass). The guess decides how fast the
  // exact integer comparisons find s, never which s. DecodeLoop inlines the same
  // steps for two symbols at a time.
  template <int kK>
  inline int32_t DecodeOne(size_t i, uint32_t slot, float mean, float scale,
                           const float* logit, Interval* out) const {
    const int b = GuessEdge(mean, scale, slot, logit);
    const uint32_t cb = CdfAt<kK>(i, b);
    const int e = cb <= slot ? b + 1 : b - 1;
    return Resolve<kK>(i, slot, b, cb, e, CdfAt<kK>(i, e), out);
  }

  // The symbol, given cb = cdf(b), the edge e = b + 1 if cb <= slot else b - 1, and
  // ce = cdf(e): s = b or b - 1 if the slot lies between cb and ce (the usual
  // case), else the search continues beyond e.
  template <int kK>
  PILLOW_L3C_INLINE int32_t Resolve(size_t i, uint32_t slot, int b, uint32_t cb,
                                    int e, uint32_t ce, Interval* out) const {
    const bool up = e > b;  // s >= b
    if (up ? slot < ce : slot >= ce) {
      const uint32_t lo = up ? cb : ce, hi = up ? ce : cb;
      *out = {lo, hi - lo};
      return up ? b : b - 1;
    }
    return Search<kK>(i, slot, up, e, ce, out);
  }

  // The rare case of Resolve: s is not next to the guessed edge. `up` says which
  // side it is on and e, with ce = cdf(e), is the closest edge known on that side:
  // s >= e when up, s < e otherwise. Gallops away from e, then bisects; every step
  // halves or doubles a bounded range, so a corrupt slot still ends in a symbol.
  template <int kK>
  int32_t Search(size_t i, uint32_t slot, bool up, int e, uint32_t ce,
                 Interval* out) const {
    int lo = 0, hi = alphabet_;  // invariant: cdf(lo) <= slot < cdf(hi)
    uint32_t clo = 0, chi = top_;
    if (up) {
      lo = e;
      clo = ce;
      for (int step = 1; lo + step < hi; step <<= 1) {
        const uint32_t c = CdfAt<kK>(i, lo + step);
        if (c > slot) {
          hi = lo + step;
          chi = c;
          break;
        }
        lo += step;
        clo = c;
      }
    } else {
      hi = e;
      chi = ce;
      for (int step = 1; hi - step > lo; step <<= 1) {
        const uint32_t c = CdfAt<kK>(i, hi - step);
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
      const uint32_t c = CdfAt<kK>(i, mid);
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

  // The guess (any value is correct, only the speed depends on it) inverts the CDF
  // of one logistic with the mixture's mean and variance, which is close to the
  // mixture's own for the unimodal mixtures photos produce. Moments computes that
  // logistic's mean and scale, in bins, for symbols i .. i + count - 1 (count <= 2,
  // so that their parameters are one contiguous run).
  template <int kK>
  PILLOW_L3C_INLINE void Moments(size_t i, size_t count, float* mean, float* scale) const {
    const int K = Components<kK>();
    const size_t row = i * static_cast<size_t>(K);
    const size_t terms = count * static_cast<size_t>(K);
    const int32_t* w = w_ + row;
    const int32_t* mu = mu_ + row;
    const int32_t* inv = inv_ + row;
    constexpr float kMeanUnit = 1.0f / (1 << kMeanFraction);
    constexpr float kScaleUnit = 1 << kInvScaleFraction;
    // Each component's terms first, in a loop without a running sum: compilers
    // vectorize it (four components per SSE2 instruction, divisions included),
    // which they may not do for a float sum whose order they must keep.
    constexpr int kMaxTerms = 2 * (kK > 0 ? kK : kMaxMixtures);
    float t1[kMaxTerms], t2[kMaxTerms];
    for (size_t q = 0; q < terms; ++q) {
      const float mk = static_cast<float>(mu[q]) * kMeanUnit;
      const float sk = kScaleUnit / static_cast<float>(inv[q] | 1);  // never 1/0
      const float wk = static_cast<float>(w[q]);
      t1[q] = wk * mk;
      t2[q] = wk * (mk * mk + 3.2898681f * sk * sk);  // logistic variance pi^2/3 s^2
    }
    constexpr float kInvTotal = 1.0f / (1 << kWeightBits);
    for (size_t j = 0; j < count; ++j) {
      float m1 = 0, m2 = 0;
      for (int k = 0; k < K; ++k) {
        m1 += t1[j * static_cast<size_t>(K) + static_cast<size_t>(k)];
        m2 += t2[j * static_cast<size_t>(K) + static_cast<size_t>(k)];
      }
      const float m = m1 * kInvTotal;
      mean[j] = m;
      const float var = std::max(m2 * kInvTotal - m * m, 1e-6f);
      scale[j] = std::sqrt(var) * 0.5513289f;  // sqrt(3) / pi
    }
  }

  // The edge nearest to where that logistic's inverse CDF puts the slot, clamped
  // to [1, alphabet) so that both candidates b - 1 and b are symbols (b = 1 = L
  // for a one-symbol alphabet). The slot's logit comes from a table (`logit`, see
  // LogitTable): on the critical path of each symbol a load is much shorter than a
  // logarithm, and a 1/2048 step in u moves the guess by a small fraction of a bin
  // except in the far tails.
  PILLOW_L3C_INLINE int GuessEdge(float mean, float scale, uint32_t slot,
                                  const float* logit) const {
    // The bucket of u = (slot + 0.5) / 2^P among 2^kLogitBits (P <= 24: no overflow).
    const size_t j = static_cast<size_t>(
        ((uint64_t{2} * slot + 1) << (kLogitBits - 1)) >> precision_);
    // Symbol s covers [s - 0.5, s + 0.5) of the continuous axis, so the edge
    // nearest to x is round(x + 0.5).
    const float x = mean + scale * logit[j];
    const float clamped = std::min(std::max(x + 1.0f, 1.0f), max_edge_);
    return static_cast<int>(clamped);
  }

  static constexpr int kLogitBits = 11;  // the logit table has 2^11 entries (8 KiB)

  // ln(u / (1 - u)) at the centres u = (j + 0.5) / 2^kLogitBits of the buckets.
  static const float* LogitTable() {
    struct Table {
      float v[size_t{1} << kLogitBits];
      Table() {
        for (size_t j = 0; j < (size_t{1} << kLogitBits); ++j) {
          const double u = (static_cast<double>(j) + 0.5) / (1 << kLogitBits);
          v[j] = static_cast<float>(std::log(u / (1.0 - u)));
        }
      }
    };
    static const Table table;  // built once, thread-safely, on first use
    return table.v;
  }

  // S(x) * 2^16 for x given in units of 2^-20, by linear interpolation in the table.
  static PILLOW_L3C_INLINE uint64_t Sigmoid(int64_t x) {
    constexpr int kUnit = kMeanFraction + kInvScaleFraction;  // 2^-20
    constexpr int kStepShift = kUnit - 6;                      // table step 1/64
    constexpr int64_t kRange = int64_t{16} << kUnit;
    constexpr int64_t kLastStep = kSigmoidTableSize - 2;
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

  const int32_t* w_;
  const int32_t* mu_;
  const int32_t* inv_;
  size_t n_;
  int k_;
  int alphabet_;
  int precision_;
  uint64_t mass_;    // 2^precision - alphabet: the mass the sigmoids share
  uint32_t top_;     // 2^precision = cdf(alphabet)
  float max_edge_;   // the largest edge GuessEdge returns
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

// The mixture has its own, faster loop (see LogisticMixture::DecodeStream).
inline void DecodeSymbols(const uint8_t* data, size_t size, size_t n,
                          const LogisticMixture& dist, int32_t* out) {
  dist.DecodeStream(data, size, n, out);
}

}  // namespace pillow_l3c
