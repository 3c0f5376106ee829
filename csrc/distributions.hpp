// The distributions the coder understands, and the generic encode/decode loops
// over them:
//
// - CdfTable (cdf_table.hpp): explicit integer CDF rows;
// - LogisticMixture (logistic_mixture.hpp): K discretized logistics per symbol,
//   whose integer CDF (mixture_cdf.hpp) is computed on demand, so the full table of
//   an image is never built.
//
// A distribution has Encode(i, symbol) -> Interval and precision(); the loops below
// decode through its Decode(i, slot, &interval), or its own DecodeStream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cdf_table.hpp"
#include "logistic_mixture.hpp"
#include "rans.hpp"

namespace pillow_l3c {

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
