"""16-bit tiles: the bits a tile uses, its high byte for any tile coder, and its low bits.

A tile of a 16-bit file (docs/FORMAT.md, "16-bit samples") is coded as:

1. its **depth**: the low bits that are zero in every sample (``shift``: a 12-bit
   image stored left-aligned, v * 16) and how many bits the rest spans (``bits``: a
   12-bit image right-aligned spans 12), so that either costs what 12 bits cost; the
   tile's values are v' = v >> shift < 2^bits;
2. its **high byte**, v' >> k with k = max(bits - 8, 0), an 8-bit image that the
   tile's coder codes as it codes any 8-bit tile (the learned model sees an 8-bit
   photo, the classical coder an 8-bit screenshot);
3. its k **low bits**, given the high byte: by the table ``LOOKUP`` when the high
   byte decides them (an 8-bit image stored as v * 257, or through any tone curve:
   they cost the table), else by ``_low_bits``' prediction cut to each sample's bin.

The first stream of the tile holds 1 and 2's parameters and the table
(``Plan.pack``); then the coder's streams; then the low bits' streams.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from pillow_l3c import _low_bits
from pillow_l3c.errors import CorruptStreamError

HIGH_BITS = 8  # the high byte: what every tile coder codes
NONE, PREDICTED, LOOKUP = 0, 1, 2  # how a tile's low bits are coded
MAX_BITS = 16


@dataclass(frozen=True)
class Plan:
    """How one 16-bit tile is split: its values v' = v >> shift span ``bits`` bits;
    the coder codes v' >> low, the low bits are coded by ``method``."""

    shift: int
    bits: int
    method: int
    table: bytes = b""  # LOOKUP: the low bits of each (band, high byte), bands * 256

    @property
    def low(self) -> int:
        """How many low bits each sample has beside its high byte."""
        return max(self.bits - HIGH_BITS, 0)

    def low_streams(self) -> int:
        return _low_bits.stream_count(self.low) if self.method == PREDICTED else 0

    def pack(self) -> bytes:
        table = zlib.compress(self.table, 9) if self.method == LOOKUP else b""
        return bytes([self.shift, self.bits, self.method]) + table

    @classmethod
    def unpack(cls, data: bytes, bands: int) -> Plan:
        """The plan of a tile's first stream; CorruptStreamError unless every field is
        one a writer writes."""
        if len(data) < 3:
            msg = "L3C 16-bit tile has a depth stream of fewer than 3 bytes"
            raise CorruptStreamError(msg)
        shift, bits, method = data[:3]
        if bits + shift > MAX_BITS or (bits == 0 and shift != 0):
            msg = f"L3C 16-bit tile claims {bits} bits shifted by {shift}"
            raise CorruptStreamError(msg)
        low = max(bits - HIGH_BITS, 0)
        if method not in (NONE, PREDICTED, LOOKUP) or (method == NONE) != (low == 0):
            msg = f"L3C 16-bit tile has low-bits method {method} for {low} low bits"
            raise CorruptStreamError(msg)
        table = b""
        if method == LOOKUP:
            inflate = zlib.decompressobj()
            try:
                table = inflate.decompress(data[3:], bands * 256 + 1)
            except zlib.error:
                table = b""
            whole = inflate.eof and not inflate.unused_data and not inflate.unconsumed_tail
            if not whole or len(table) != bands * 256 or max(table) >= 1 << low:
                msg = "L3C 16-bit tile has a damaged low-bits table"
                raise CorruptStreamError(msg)
        elif len(data) != 3:
            msg = "L3C 16-bit tile has bytes after its depth"
            raise CorruptStreamError(msg)
        return cls(shift, bits, method, table)


def plan(pixels: np.ndarray) -> tuple[Plan, np.ndarray]:
    """The plan of a tile (h, w, bands) uint16 and its values v' (int64)."""
    values = pixels.astype(np.int64)
    used = int(np.bitwise_or.reduce(values, axis=None)) if values.size else 0
    if used == 0:
        return Plan(0, 0, NONE), values
    shift = (used & -used).bit_length() - 1  # the lowest bit any sample sets
    values >>= shift
    bits = int(values.max()).bit_length()
    low = max(bits - HIGH_BITS, 0)
    if low == 0:
        return Plan(shift, bits, NONE), values
    table = _lookup(values, low)
    if table is not None:
        return Plan(shift, bits, LOOKUP, table), values
    return Plan(shift, bits, PREDICTED), values


def _lookup(values: np.ndarray, low: int) -> bytes | None:
    """The table of low bits by (band, high byte) when the high byte decides them."""
    bands = values.shape[2]
    key = (values >> low) + 256 * np.arange(bands)
    lows = values & ((1 << low) - 1)
    first = np.full(256 * bands, -1, np.int64)
    first[key.reshape(-1)] = lows.reshape(-1)  # some sample's low bits per key
    if not np.array_equal(first[key], lows):
        return None
    return np.maximum(first, 0).astype(np.uint8).tobytes()


def encode_low(p: Plan, values: np.ndarray) -> list[bytes]:
    """The streams of a tile's low bits (none unless ``p.method`` is PREDICTED)."""
    return _low_bits.encode(values, p.low) if p.method == PREDICTED else []


def join(p: Plan, high: np.ndarray, low_streams: list[bytes]) -> np.ndarray:
    """The tile (h, w, bands) uint16 of its plan, decoded high byte and low streams."""
    if p.method == PREDICTED:
        try:
            values = _low_bits.decode(low_streams, high, p.low)
        except ValueError as e:
            msg = f"L3C 16-bit tile's low bits do not decode: {e}"
            raise CorruptStreamError(msg) from None
    else:
        values = high.astype(np.int64) << p.low
        if p.method == LOOKUP:
            table = np.frombuffer(p.table, np.uint8).astype(np.int64)
            values |= table[high.astype(np.int64) + 256 * np.arange(high.shape[2])]
    if int(values.max(initial=0)) >> p.bits:
        msg = f"L3C 16-bit tile decodes to values over its {p.bits} bits"
        raise CorruptStreamError(msg)
    return (values << p.shift).astype(np.uint16)
