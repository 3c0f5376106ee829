"""The one interface every way of coding a tile implements, and the options they share.

A .l3c file (format 3) lists the methods it uses in its header's method table, each
as a kind and a 16-byte id (a learned model by the id of its integers, a classical
coder by its name), and each tile names its method by an index into that table, so
one file can mix them: a screenshot's flat tiles by a classical coder, the photo in
it by a learned model. The container (``pillow_l3c._format``) knows the header, the
sections, the tiles and their checksums and nothing of any method; a method knows
how its tile's streams hold the pixels and nothing of the file around them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

    from pillow_l3c._model import LoadedModel

# Method kinds in a format-3 method table.
LEARNED = 1  # a bundled model; id: the model's integer id (pillow_l3c._model)
CLASSICAL = 2  # a coder without a network; id: its name, ASCII, NUL-padded
METHOD_ID_BYTES = 16


@dataclass(frozen=True)
class Method:
    """One entry of a file's method table."""

    kind: int
    id: bytes

    @classmethod
    def classical(cls, name: str) -> Method:
        raw = name.encode("ascii")
        if len(raw) > METHOD_ID_BYTES:
            msg = f"a classical coder's name is at most {METHOD_ID_BYTES} bytes: {name!r}"
            raise ValueError(msg)
        return cls(CLASSICAL, raw.ljust(METHOD_ID_BYTES, b"\0"))

    def describe(self) -> str:
        if self.kind == CLASSICAL:
            return self.id.rstrip(b"\0").decode("ascii", "replace")
        return f"model {self.id.hex()}"


@dataclass(frozen=True)
class EncodeOptions:
    """Everything an encoder may choose, in one object that reaches every tile coder.

    Frozen, so that a tile coded in another thread or process sees what the caller
    asked for, and tests pass options instead of patching module globals.
    """

    model: str | None = None  # a bundled model's name (``l3c models``); None: the default
    effort: int = 7  # 1 (fastest) .. 9: how much an encoder searches; never changes decoding
    tile_size: int | None = None  # None: the method's default
    device: str | None = None  # "cpu" (default) or "cuda"
    workers: int | None = None  # tiles coded at once; None: one per core
    adapt_scales: bool = True  # polyphase: fit each stream's scale offset (docs/TRAINING.md)
    classical: bool | None = None  # None: chosen per tile; True/False: forced (benchmarks)


class TileCoder(Protocol):
    """A way of coding one tile: the pixels (h, w, bands) uint8 of a mode <-> streams."""

    @property
    def method(self) -> Method:
        """The entry that names this coder in a file's method table."""
        ...

    def stream_count(self, mode: str, height: int, width: int) -> int:
        """How many streams a tile of ``mode`` and this size has (checked on read)."""
        ...

    def encode_tile(self, pixels: np.ndarray, mode: str, options: EncodeOptions) -> list[bytes]:
        """The streams of one tile, in file order."""
        ...

    def decode_tile(self, streams: list[bytes], mode: str, height: int, width: int) -> np.ndarray:
        """The pixels (height, width, bands) uint8 of one tile; raises CorruptStreamError
        for streams that do not decode (never returns unchecked pixels: the container
        checks them against the tile's checksums).
        """
        ...

    def checksums(self, pixels: np.ndarray) -> list[int]:
        """The CRC-32s the container stores for a tile: one over all its pixels, or one
        per scale (coarsest first) for a coder that can decode the coarse scales alone.
        """
        ...


def as_tile(pixels: np.ndarray, mode: str, bands: int, deep: bool = False) -> np.ndarray:
    """``pixels`` as the (h, w, bands) array every coder takes, or ValueError: uint8,
    or with ``deep`` uint8 or uint16 (native byte order; a byte-swapped array is
    read by value).

    A grey (h, w) array gains its band axis and a mode-1 image's bool array becomes
    0 and 1; nothing else is converted: a lossless codec must not guess.
    """
    import numpy as np

    pixels = np.asarray(pixels)
    if mode == "1" and pixels.dtype == np.bool_:
        pixels = pixels.astype(np.uint8)
    if pixels.ndim == 2 and bands == 1:
        pixels = pixels[:, :, None]
    if deep and pixels.dtype.kind == "u" and pixels.dtype.itemsize == 2:
        pixels = pixels.astype(np.uint16, copy=False)  # a big-endian uint16 by value
    dtypes = (np.uint8, np.uint16) if deep else (np.uint8,)
    if pixels.dtype not in dtypes or pixels.ndim != 3 or pixels.shape[2] != bands:
        got = f"{pixels.dtype} {pixels.shape}"
        kind = "a uint8 or uint16" if deep else "a uint8"
        msg = f"{mode} needs {kind} array of shape (H, W, {bands}), got {got}"
        raise ValueError(msg)
    if mode == "1" and pixels.max(initial=0) > 1:
        msg = "a mode-1 image's samples are 0 and 1"
        raise ValueError(msg)
    return pixels


class LearnedCoder:
    """What the learned tile coders share: the model they run, named by its id."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    @property
    def method(self) -> Method:
        return Method(LEARNED, self.model.model_id)


def pixel_checksums(pixels: np.ndarray) -> list[int]:
    """One CRC-32 over the tile's pixels: the checksum of a coder without scales."""
    import numpy as np

    return [zlib.crc32(np.ascontiguousarray(pixels).tobytes())]
