// LogisticMixture: the coder's distribution for mixture streams. Encoding reads
// the CDF (mixture_cdf.hpp, the definition) at the symbol's two edges; decoding
// must find the symbol whose interval holds a slot, and this file is about finding
// it fast: a float guess of the nearest edge, then exact integer comparisons. The
// guess decides only how fast the symbol is found, never which symbol: every value
// compared is MixtureCdf::At's.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "format_constants.hpp"
#include "inline.hpp"
#include "mixture_cdf.hpp"
#include "rans.hpp"

namespace pillow_l3c {

class LogisticMixture {
 public:
  // REQUIRES: as MixtureCdf's constructor.
  LogisticMixture(const int32_t* weights, const int32_t* means,
                  const int32_t* inv_scales, size_t n, int mixtures, int alphabet,
                  int precision)
      : cdf_(weights, means, inv_scales, n, mixtures, alphabet, precision),
        max_edge_(static_cast<float>(std::max(alphabet - 1, 1))) {}

  // Rejects parameters for which the CDF is not defined (std::invalid_argument).
  void Validate() const { cdf_.Validate(); }

  PILLOW_L3C_INLINE Interval Encode(size_t i, int32_t symbol) const {
    if (symbol < 0 || symbol >= cdf_.alphabet()) ThrowOutsideAlphabet(i, symbol);
    const uint32_t lo = cdf_.At(i, symbol), hi = cdf_.At(i, symbol + 1);
    return {lo, hi - lo};
  }

  // Decodes symbols[0..n) of a stream of EncodeSymbols into `out`; raises
  // CorruptStreamError on a bad stream.
  void DecodeStream(const uint8_t* data, size_t size, size_t n, int32_t* out) const {
    // The common K get their own instance, in which the loops over the components
    // unroll completely and the work of two symbols interleaves without spilling
    // loop counters.
    switch (cdf_.mixtures()) {
      case 5:
        return DecodeLoop<5>(data, size, n, out);
      case 10:
        return DecodeLoop<10>(data, size, n, out);
      default:
        return DecodeLoop<0>(data, size, n, out);
    }
  }

  int precision() const { return cdf_.precision(); }

  // cdf(b) (mixture_cdf.hpp); strictly increasing in b for validated parameters.
  inline uint32_t Cdf(size_t i, int b) const { return cdf_.At(i, b); }

 private:
  // Out of line, so that Encode stays small enough for the compiler to inline it
  // into EncodeSymbols' loop.
  [[noreturn]] static void ThrowOutsideAlphabet(size_t i, int32_t symbol) {
    throw std::invalid_argument("symbol " + std::to_string(symbol) + " at index " +
                                std::to_string(i) + " is outside the alphabet");
  }

  template <int kK>
  void DecodeLoop(const uint8_t* data, size_t size, size_t n, int32_t* out) const {
    RansDecoder dec(data, size);
    const int p = cdf_.precision();
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
      const uint32_t cb0 = cdf_.At<kK>(i, b0), cb1 = cdf_.At<kK>(i + 1, b1);
      // The next pair's Moments, placed between the CDF passes: it does not depend
      // on them, and its floating-point work fills the integer passes' waits.
      if (i + 2 < n) Moments<kK>(i + 2, std::min<size_t>(n - i - 2, 2), mean, scale);
      const int e0 = cb0 <= slot0 ? b0 + 1 : b0 - 1;
      const int e1 = cb1 <= slot1 ? b1 + 1 : b1 - 1;
      const uint32_t ce0 = cdf_.At<kK>(i, e0), ce1 = cdf_.At<kK>(i + 1, e1);
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
  // boundary of s, so s is usually b - 1 or b (benchmarks/coder_speed.py; README.md,
  // "Coder speed"). One exact pass at b says
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
    const uint32_t cb = cdf_.At<kK>(i, b);
    const int e = cb <= slot ? b + 1 : b - 1;
    return Resolve<kK>(i, slot, b, cb, e, cdf_.At<kK>(i, e), out);
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
    int lo = 0, hi = cdf_.alphabet();  // invariant: cdf(lo) <= slot < cdf(hi)
    uint32_t clo = 0, chi = cdf_.top();
    if (up) {
      lo = e;
      clo = ce;
      for (int step = 1; lo + step < hi; step <<= 1) {
        const uint32_t c = cdf_.At<kK>(i, lo + step);
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
        const uint32_t c = cdf_.At<kK>(i, hi - step);
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
      const uint32_t c = cdf_.At<kK>(i, mid);
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
    const int K = cdf_.Components<kK>();
    const size_t row = i * static_cast<size_t>(K);
    const size_t terms = count * static_cast<size_t>(K);
    const int32_t* w = cdf_.weights() + row;
    const int32_t* mu = cdf_.means() + row;
    const int32_t* inv = cdf_.inv_scales() + row;
    constexpr float kMeanUnit = 1.0f / (1 << kMeanFractionBits);
    constexpr float kScaleUnit = 1 << kInvScaleFractionBits;
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
        ((uint64_t{2} * slot + 1) << (kLogitBits - 1)) >> cdf_.precision());
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

  MixtureCdf cdf_;
  float max_edge_;  // the largest edge GuessEdge returns
};

}  // namespace pillow_l3c
