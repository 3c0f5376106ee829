"""Typed stub of the C++ rANS coder (csrc/bindings.cpp).

Every array argument must be a numpy array of dtype int32 (native byte order),
C-contiguous and aligned, of the shape given: nothing is converted, since a cast
would code other values than the caller's. A wrong type or dtype raises TypeError;
a wrong shape, layout or value raises ValueError naming the argument. ``data`` is a
one-dimensional contiguous buffer of unsigned bytes (bytes, bytearray, memoryview,
uint8 array); a bad stream raises pillow_l3c.errors.CorruptStreamError.
"""

import numpy as np
import numpy.typing as npt

Int32Array = npt.NDArray[np.int32]
Bytes = bytes | bytearray | memoryview | npt.NDArray[np.uint8]

# The format's integers this build was compiled with (csrc/format_constants.hpp),
# keyed by their names in pillow_l3c/_constants.py.
CONSTANTS: dict[str, int]

# symbols (n,) in [0, L); cdf (1 or n, L + 1): rows from 0 to 2^precision, rising.
def encode_cdf(symbols: Int32Array, cdf: Int32Array, precision: int = 16) -> bytes: ...
def decode_cdf(data: Bytes, cdf: Int32Array, n: int, precision: int = 16) -> Int32Array: ...

# symbols (n,) in [0, alphabet); weights, means, inv_scales (n, K), 1 <= K <= 64, with
# weights >= 0 summing to 2^12 per row, |means| <= 2^28, 0 <= inv_scales <= 2^20.
def encode_mixture(
    symbols: Int32Array,
    weights: Int32Array,
    means: Int32Array,
    inv_scales: Int32Array,
    alphabet: int,
    precision: int = 16,
) -> bytes: ...
def decode_mixture(
    data: Bytes,
    weights: Int32Array,
    means: Int32Array,
    inv_scales: Int32Array,
    alphabet: int,
    precision: int = 16,
) -> Int32Array: ...
def mixture_cdf(
    weights: Int32Array,
    means: Int32Array,
    inv_scales: Int32Array,
    alphabet: int,
    precision: int = 16,
) -> Int32Array: ...
