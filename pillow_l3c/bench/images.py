"""How ``l3c bench`` reads an image: 8-bit ones as RGB, deeper ones at their real depth.

An 8-bit image (any mode Pillow opens at 8 bits or fewer: RGB, L, P, RGBA, 1...) is
converted to RGB, as the benchmark has always done, so that every codec codes the same
three planes. An image of 9 to 16 bits per sample is read as uint16 and kept as it is
stored: grey (H, W), grey+alpha (H, W, 2), RGB (H, W, 3) or RGBA (H, W, 4), since
a 16-bit codec is asked to code the samples the file holds, no more and no fewer.

Why not just Pillow: Pillow opens a 16-bit RGB(A) PNG, TIFF or PPM as an 8-bit image,
silently dropping the low byte of every sample, and the benchmark would then measure
the codecs on other pixels than the file's. The stored depth is therefore read from the
file itself (the PNG header, the TIFF BitsPerSample tag, the PPM maxval) and deep
colour images are decoded by imagecodecs (PNG, TIFF) or read raw (PPM); deep grey ones,
which Pillow reads exactly (modes I;16 and I), come from Pillow when nothing else
decodes them. A deep image that cannot be read exactly is an error, never 8 bits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: What reading an unreadable image may raise (imagecodecs' errors are RuntimeErrors).
LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    RuntimeError,
    Image.DecompressionBombError,
)

_DEEP_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def load_pixels(path: Path) -> np.ndarray:
    """The pixels ``l3c bench`` gives every codec: uint8 (H, W, 3), or uint16 as stored.

    Raises one of ``LOAD_ERRORS`` for a file that cannot be read exactly.
    """
    with Image.open(path) as im:
        depth = stored_depth(im, path)
        if depth <= 8:
            return np.asarray(im.convert("RGB"))
        if depth > 16:
            msg = f"{depth}-bit samples: only 8- and 16-bit images are benchmarked"
            raise ValueError(msg)
        return _as_uint16(_read_deep(im, path), path)


def stored_depth(im: Image.Image, path: Path) -> int:
    """Bits per sample as the file stores them (Pillow's mode may say fewer)."""
    if im.format == "PNG":
        with open(path, "rb") as f:
            head = f.read(26)
        # signature (8), IHDR length and type (8), width and height (8), bit depth
        if len(head) == 26 and head[12:16] == b"IHDR":
            return head[24]
    elif im.format == "TIFF":
        bits: Any = getattr(im, "tag_v2", {}).get(258, 8)
        return max(bits) if isinstance(bits, tuple) else int(bits)
    elif im.format == "PPM" and im.tile:
        maxval = _ppm_maxval(im)
        if maxval is not None:
            return max(1, maxval.bit_length())
    if im.mode in _DEEP_GREY_MODES:
        return 16
    if im.mode in ("I;32", "F"):
        return 32
    return 8


def _ppm_maxval(im: Image.Image) -> int | None:
    args = im.tile[0].args
    if isinstance(args, tuple) and len(args) == 2 and isinstance(args[1], int):
        return args[1]  # the "ppm" decoder's (rawmode, maxval)
    if args in ("I;16B", ("I;16B", 0, 1)):
        return 65535  # a 16-bit PGM read raw
    return None


def _read_deep(im: Image.Image, path: Path) -> np.ndarray:
    """A 9- to 16-bit image's samples, by the first reader that keeps them all."""
    if im.format in ("PNG", "TIFF"):
        try:
            import imagecodecs
        except ImportError:
            imagecodecs = None
        if imagecodecs is not None:
            data = path.read_bytes()
            decoded = (
                imagecodecs.png_decode(data)
                if im.format == "PNG"
                else imagecodecs.tiff_decode(data)
            )
            return np.asarray(decoded)
    if im.format == "PPM" and im.mode == "RGB":
        return _read_ppm16(im, path)
    if im.mode in _DEEP_GREY_MODES:
        return np.asarray(im)
    msg = (
        f"a 16-bit {im.mode} {im.format} needs imagecodecs to be read exactly "
        "(pip install imagecodecs); Pillow would reduce it to 8 bits"
    )
    raise ValueError(msg)


def _read_ppm16(im: Image.Image, path: Path) -> np.ndarray:
    """A binary 16-bit PPM (P6): big-endian samples after the header Pillow parsed."""
    tile = im.tile[0]
    w, h = im.size
    n = w * h * 3 * 2
    with open(path, "rb") as f:
        f.seek(tile.offset)
        data = f.read(n)
    if len(data) != n:
        msg = f"truncated 16-bit PPM: {len(data)} of {n} bytes"
        raise ValueError(msg)
    return np.frombuffer(data, ">u2").reshape(h, w, 3)


def _as_uint16(a: np.ndarray, path: Path) -> np.ndarray:
    """Native-endian uint16 of shape (H, W) or (H, W, 2..4); a value error otherwise."""
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)):
        msg = f"{path.name}: samples of shape {a.shape}: not one grey, GA, RGB or RGBA image"
        raise ValueError(msg)
    if a.dtype.kind not in "ui" or (a.size and (int(a.min()) < 0 or int(a.max()) > 65535)):
        msg = f"{path.name}: {a.dtype} samples do not fit 16 bits"
        raise ValueError(msg)
    return np.ascontiguousarray(a, dtype=np.uint16)


def channel_name(channels: int) -> str:
    """How a report names an image's channels: "grey", "GA", "RGB" or "RGBA"."""
    return {1: "grey", 2: "GA", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")


def describe(channels: int, bits: int) -> str:
    """How a report names an image's samples: "16-bit RGB", "16-bit grey"..."""
    return f"{bits}-bit {channel_name(channels)}"


def channels_of(a: np.ndarray) -> int:
    """Samples per pixel of an (H, W) or (H, W, C) array."""
    return 1 if a.ndim == 2 else int(a.shape[2])
