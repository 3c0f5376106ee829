// Explicit integer CDF rows: one row per symbol, or one row shared by all symbols
// (the uniform prior of a tile's first stream). Row convention, for an alphabet of
// L symbols and precision P: cdf[0] = 0, cdf[L] = 2^P, and symbol s has probability
// (cdf[s + 1] - cdf[s]) / 2^P, which must be positive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "rans.hpp"

namespace pillow_l3c {

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

}  // namespace pillow_l3c
