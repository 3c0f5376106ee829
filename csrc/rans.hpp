// Interleaved rANS entropy coder (Duda's asymmetric numeral systems, two states
// interleaved after Giesen, "Interleaved entropy coders", 2014).
//
// Why rANS and not a range coder: decoding a symbol is one multiply, one shift and
// one table search with no division, and two independent states let the CPU overlap
// the dependency chains; the encoder's one 64-bit division per symbol is cheap next
// to the network. The price is that rANS encodes in reverse order, which is free here
// because the codec holds each stream's symbols and distributions before coding it.
//
// Stream layout (all big-endian): state of lane 0 (8 bytes), state of lane 1
// (8 bytes), then 32-bit words in the order the decoder consumes them. Symbol i is
// coded by lane i % 2. A stream of n symbols decodes only with the same n and the
// same distributions; the decoder verifies at the end that both states returned to
// their initial value and that every byte was consumed.
//
// This header is pure C++17: no Python, no torch.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "format_constants.hpp"
#include "inline.hpp"

namespace pillow_l3c {

// Raised for a stream that cannot be the output of the encoder (truncated,
// corrupted, or decoded with other distributions than it was encoded with).
class CorruptStreamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One symbol's slice [start, start + freq) of [0, 2^precision).
struct Interval {
  uint32_t start;
  uint32_t freq;
};

constexpr uint64_t kStateLow = uint64_t{1} << kRansStateLowBits;  // states in [2^31, 2^63)
// The coder's own limit (the format uses kPrecision): a state of at least 2^31 must
// hold a full slot, and the decoder's float guess indexes its table without overflow.
constexpr int kMaxPrecision = 24;
constexpr int kLanes = kRansLanes;
constexpr size_t kHeaderBytes = kRansHeaderBytes;
static_assert(kHeaderBytes == 8 * kLanes, "a stream starts with each lane's 64-bit state");

class RansEncoder {
 public:
  RansEncoder() { state_[0] = state_[1] = kStateLow; }
  RansEncoder(const RansEncoder&) = delete;
  RansEncoder& operator=(const RansEncoder&) = delete;

  // Pushes one symbol with probability freq / 2^precision on `lane`.
  // REQUIRES: 0 < freq, start + freq <= 2^precision, precision <= kMaxPrecision.
  // Symbols must be pushed in reverse decoding order.
  PILLOW_L3C_INLINE void Put(int lane, uint32_t start, uint32_t freq, int precision) {
    uint64_t x = state_[lane];
    const uint64_t x_max = ((kStateLow >> precision) << 32) * freq;
    if (x >= x_max) {
      words_.push_back(static_cast<uint32_t>(x));
      x >>= 32;
    }
    state_[lane] = ((x / freq) << precision) + (x % freq) + start;
  }

  // Serializes the stream; the encoder must not be used afterwards.
  std::vector<uint8_t> Finish() const {
    std::vector<uint8_t> out;
    out.reserve(kHeaderBytes + 4 * words_.size());
    for (int lane = 0; lane < kLanes; ++lane) {
      for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<uint8_t>(state_[lane] >> shift));
      }
    }
    for (auto it = words_.rbegin(); it != words_.rend(); ++it) {
      for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<uint8_t>(*it >> shift));
      }
    }
    return out;
  }

 private:
  uint64_t state_[kLanes];
  std::vector<uint32_t> words_;
};

class RansDecoder {
 public:
  // Every read is bounded by `size`: a truncated stream raises, never over-reads.
  RansDecoder(const uint8_t* data, size_t size) : data_(data), size_(size) {
    if (size < kHeaderBytes) {
      throw CorruptStreamError("rANS stream shorter than its 16-byte header");
    }
    if ((size - kHeaderBytes) % 4 != 0) {
      throw CorruptStreamError("rANS stream length is not header + 4*k bytes");
    }
    for (int lane = 0; lane < kLanes; ++lane) {
      uint64_t x = 0;
      for (int i = 0; i < 8; ++i) x = (x << 8) | data_[pos_++];
      if (x < kStateLow || x >= (kStateLow << 32)) {
        throw CorruptStreamError("rANS stream has an invalid initial state");
      }
      state_[lane] = x;
    }
  }
  RansDecoder(const RansDecoder&) = delete;
  RansDecoder& operator=(const RansDecoder&) = delete;

  // The slot in [0, 2^precision) that selects the next symbol of `lane`.
  PILLOW_L3C_INLINE uint32_t Peek(int lane, int precision) const {
    return static_cast<uint32_t>(state_[lane] & ((uint64_t{1} << precision) - 1));
  }

  // Consumes the symbol [start, start + freq) that contains Peek(lane).
  PILLOW_L3C_INLINE void Advance(int lane, uint32_t start, uint32_t freq, int precision) {
    const uint64_t x = state_[lane];
    const uint64_t mask = (uint64_t{1} << precision) - 1;
    const uint64_t y = freq * (x >> precision) + (x & mask) - start;
    // Whether a word is read depends on the data (about one symbol in eight at
    // 4 bits/symbol), so a branch on it would often be mispredicted. Instead the
    // next word is always loaded, from a position clamped into the stream (the
    // header makes size_ >= 16), and kept or not by conditional moves; the only
    // branch left, on truncation, is never taken for a good stream.
    const bool refill = y < kStateLow;
    const size_t next = pos_ + (refill ? 4 : 0);
    if (next > size_) {
      throw CorruptStreamError("rANS stream is truncated");
    }
    const uint8_t* p = data_ + std::min(pos_, size_ - 4);
    const uint32_t w = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                       (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    state_[lane] = refill ? (y << 32) | w : y;
    pos_ = next;
  }

  // Final sanity check: never fails on a good stream, catches almost every bad one.
  void Finish() const {
    if (pos_ != size_) {
      throw CorruptStreamError("rANS stream has " + std::to_string(size_ - pos_) +
                               " unread bytes");
    }
    for (int lane = 0; lane < kLanes; ++lane) {
      if (state_[lane] != kStateLow) {
        throw CorruptStreamError("rANS stream did not end in its initial state");
      }
    }
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t state_[kLanes];
};

}  // namespace pillow_l3c
