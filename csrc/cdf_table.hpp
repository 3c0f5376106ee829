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

  // Rejects rows that break the convention above (std::invalid_argument, naming the
  // entry): Decode's search assumes every row starts at 0, ends at 2^P and rises
  // strictly, so that each slot of [0, 2^P) belongs to exactly one symbol.
  void Validate() const {
    const int64_t top = int64_t{1} << precision_;
    for (size_t r = 0; r < rows_; ++r) {
      const int32_t* row = cdf_ + r * stride_;
      if (row[0] != 0) {
        throw std::invalid_argument(Entry(r, 0, row[0]) + "; every row must start at 0");
      }
      if (row[alphabet_] != top) {
        throw std::invalid_argument(Entry(r, alphabet_, row[alphabet_]) +
                                    "; every row must end at 2^" +
                                    std::to_string(precision_) + " = " + std::to_string(top));
      }
      for (int s = 0; s < alphabet_; ++s) {
        if (row[s + 1] <= row[s]) {
          throw std::invalid_argument(Entry(r, s + 1, row[s + 1]) + " is not above " +
                                      Entry(r, s, row[s]) +
                                      ": every symbol needs a positive probability");
        }
      }
    }
  }

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
  static std::string Entry(size_t r, int s, int32_t value) {
    return "cdf[" + std::to_string(r) + ", " + std::to_string(s) + "] = " + std::to_string(value);
  }
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
