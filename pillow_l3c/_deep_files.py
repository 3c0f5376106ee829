"""16-bit colour files for the command line, which Pillow cannot hold.

Pillow keeps 16 bits per sample only in grey (I;16): it opens a 16-bit RGB, RGBA or
LA PNG or TIFF as 8 bits and writes none. ``l3c encode`` therefore reads such a
source's pixels with imagecodecs (when installed: ``pip install imagecodecs``; the
metadata still comes from Pillow, which reads it whole), and ``l3c decode`` writes a
16-bit colour file as PNG itself: Pillow writes the metadata chunks of a 1x1 image
(exactly the chunks it would write for any PNG), and this module puts them around
its own IHDR and IDAT.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pillow_l3c.errors import L3cError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {2: 4, 3: 2, 4: 6}  # bands -> PNG colour type: grey+alpha, RGB, RGBA
_OWN_CHUNKS = frozenset({b"IHDR", b"IDAT", b"IEND"})


def reduced_depth(im: Image.Image) -> str | None:
    """The raw mode of a source whose samples Pillow reads with fewer bits than the
    file has (a 16-bit colour PNG or TIFF, opened as 8-bit RGB or RGBA), else None."""
    if im.mode.startswith("I"):
        return None
    for tile in im.tile or []:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        raw = next((a for a in args if isinstance(a, str)), "")
        if ";16" in raw:
            return raw
    return None


def read_pixels(path: Path, raw: str) -> np.ndarray:
    """The uint16 pixels (H, W, bands) of a 16-bit colour source, read exactly.

    L3cError when imagecodecs is not installed or reads something else than a uint16
    image of 2 to 4 bands: never a guess.
    """
    try:
        import imagecodecs
    except ImportError:
        msg = (
            f"it has 16 bits per sample ({raw}), which Pillow reads as 8 bits (Pillow keeps "
            "16 bits only in grey); to code it exactly, install imagecodecs (pip install "
            "imagecodecs), or store it with pillow_l3c.encode from a uint16 array"
        )
        raise L3cError(msg) from None
    pixels = imagecodecs.imread(str(path))
    if pixels.dtype.kind != "u" or pixels.dtype.itemsize != 2 or pixels.ndim != 3:
        msg = f"imagecodecs reads it as {pixels.dtype} {pixels.shape}, not a 16-bit colour image"
        raise L3cError(msg)
    if pixels.shape[2] not in _COLOUR_TYPE:
        msg = f"it has {pixels.shape[2]} bands of 16 bits; L3C stores 1 to 4"
        raise L3cError(msg)
    return pixels.astype(np.uint16, copy=False)


def write_png(target: Path, pixels: np.ndarray, params: dict[str, Any]) -> None:
    """``pixels`` (H, W, 2 .. 4) uint16 as a 16-bit PNG with Pillow's metadata chunks
    for the save ``params`` (``Metadata.save_params("PNG")``'s)."""
    height, width, bands = pixels.shape
    head = io.BytesIO()
    Image.new("L", (1, 1)).save(head, format="PNG", **params)
    before, after = _metadata_chunks(head.getvalue())
    ihdr = struct.pack(">IIBBBBB", width, height, 16, _COLOUR_TYPE[bands], 0, 0, 0)
    with open(target, "wb") as f:
        f.write(PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + before)
        f.write(_chunk(b"IDAT", zlib.compress(_filtered_rows(pixels), 6)))
        f.write(after + _chunk(b"IEND", b""))


def _filtered_rows(pixels: np.ndarray) -> bytes:
    """The image's scanlines with PNG's Sub filter (1): each byte less the byte one
    pixel before it, modulo 256; the samples big-endian, as PNG stores them."""
    data = np.ascontiguousarray(pixels, dtype=">u2").view(np.uint8)
    rows = data.reshape(pixels.shape[0], -1)
    step = 2 * pixels.shape[2]  # bytes per pixel
    sub = rows.copy()
    sub[:, step:] -= rows[:, :-step]  # uint8 arithmetic: modulo 256
    lines = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    lines[:, 0] = 1
    lines[:, 1:] = sub
    return lines.tobytes()


def _metadata_chunks(png: bytes) -> tuple[bytes, bytes]:
    """The chunks of a PNG other than IHDR, IDAT and IEND, those before its IDAT and
    those after, each with its length and CRC as they were."""
    pos, before, after, seen_data = len(PNG_SIGNATURE), [], [], False
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        kind = png[pos + 4 : pos + 8]
        whole = png[pos : pos + 12 + length]
        seen_data = seen_data or kind == b"IDAT"
        if kind not in _OWN_CHUNKS:
            (after if seen_data else before).append(whole)
        pos += 12 + length
    return b"".join(before), b"".join(after)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
