"""Typed stub of the C++ rANS coder (csrc/bindings.cpp)."""

import numpy as np
import numpy.typing as npt

# The format's integers this build was compiled with (csrc/format_constants.hpp),
# keyed by their names in pillow_l3c/_constants.py.
CONSTANTS: dict[str, int]

def encode_cdf(symbols: npt.ArrayLike, cdf: npt.ArrayLike, precision: int = 16) -> bytes: ...
def decode_cdf(
    data: bytes, cdf: npt.ArrayLike, n: int, precision: int = 16
) -> npt.NDArray[np.int32]: ...
def encode_mixture(
    symbols: npt.ArrayLike,
    weights: npt.ArrayLike,
    means: npt.ArrayLike,
    inv_scales: npt.ArrayLike,
    alphabet: int,
    precision: int = 16,
) -> bytes: ...
def decode_mixture(
    data: bytes,
    weights: npt.ArrayLike,
    means: npt.ArrayLike,
    inv_scales: npt.ArrayLike,
    alphabet: int,
    precision: int = 16,
) -> npt.NDArray[np.int32]: ...
def mixture_cdf(
    weights: npt.ArrayLike,
    means: npt.ArrayLike,
    inv_scales: npt.ArrayLike,
    alphabet: int,
    precision: int = 16,
) -> npt.NDArray[np.int32]: ...
