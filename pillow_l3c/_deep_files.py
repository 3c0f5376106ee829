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

import contextlib
import io
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from pillow_l3c import _format, _metadata
from pillow_l3c.errors import L3cError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {2: 4, 3: 2, 4: 6}  # bands -> PNG colour type: grey+alpha, RGB, RGBA
_OWN_CHUNKS = frozenset({b"IHDR", b"IDAT", b"IEND"})


def reduced_depth(im: Image.Image) -> str | None:
    """The raw mode of a source whose samples Pillow reads with fewer bits than the
    file has (a 16-bit colour PNG or TIFF, opened as 8-bit RGB or RGBA; a PPM of more
    than 255 levels, opened as 8-bit RGB), else None."""
    if im.mode.startswith("I"):
        return None
    for tile in im.tile or []:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        raw = next((a for a in args if isinstance(a, str)), "")
        if ";16" in raw:
            return raw
        levels = _ppm_maxval(im, args)
        if levels is not None and levels > 255:
            return f"{raw};16B, maxval {levels}"
    return None


def _ppm_maxval(im: Image.Image, args: tuple[Any, ...]) -> int | None:
    """The maxval of a binary PPM (Pillow's "ppm" decoder takes (rawmode, maxval))."""
    if im.format == "PPM" and len(args) == 2 and isinstance(args[1], int):
        return args[1]
    return None


def read_pixels(path: Path, im: Image.Image, raw: str) -> np.ndarray:
    """The uint16 pixels (H, W, bands) of a 16-bit colour source, read exactly.

    L3cError when imagecodecs is not installed (a PNG or TIFF), or reads anything but a
    uint16 image of Pillow's size and bands: never a guess.
    """
    kind = raw.split(";")[0]
    if kind not in _format.DEEP_MODES or kind == "L":
        msg = f"it has 16-bit samples of {kind}, which L3C does not store"
        raise L3cError(msg)
    if im.format == "PPM":
        return _read_ppm(path, im)
    try:
        import imagecodecs
    except ImportError:
        msg = (
            f"it has 16 bits per sample ({raw}), which Pillow reads as 8 bits (Pillow keeps "
            "16 bits only in grey); to code it exactly, install imagecodecs (pip install "
            "imagecodecs), or store it with pillow_l3c.encode from a uint16 array"
        )
        raise L3cError(msg) from None
    try:
        pixels = imagecodecs.imread(str(path))
    except Exception as e:  # imagecodecs raises many kinds, with long messages
        msg = f"imagecodecs cannot read its 16-bit samples ({type(e).__name__})"
        raise L3cError(msg) from None
    want = (im.height, im.width, _format.MODES[kind][1])
    if pixels.dtype.kind != "u" or pixels.dtype.itemsize != 2 or pixels.shape != want:
        msg = (
            f"imagecodecs reads it as {pixels.dtype} {pixels.shape}, not the 16-bit "
            f"{kind} image of {im.width}x{im.height} that Pillow sees"
        )
        raise L3cError(msg)
    return pixels.astype(np.uint16, copy=False)


def _read_ppm(path: Path, im: Image.Image) -> np.ndarray:
    """A binary PPM of more than 255 levels: big-endian samples after its header."""
    offset = im.tile[0].offset
    size = im.width * im.height * 3 * 2
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(size)
    if len(data) != size:
        msg = f"it is a truncated 16-bit PPM: {len(data)} of {size} bytes"
        raise L3cError(msg)
    return np.frombuffer(data, ">u2").reshape(im.height, im.width, 3).astype(np.uint16)


def is_deep_colour(header: _format.Header) -> bool:
    """Whether a file is 16-bit colour: what Pillow cannot hold, and this module writes."""
    return header.bits == 16 and header.mode != "L"


def write_png_with_metadata(
    target: Path | BinaryIO, pixels: np.ndarray, sections: dict[bytes, bytes]
) -> None:
    """``write_png`` of a decoded file's pixels and metadata sections, warning about
    what PNG cannot hold (``MetadataNotKeptWarning``) as every decode does."""
    params, lost = _metadata.Metadata.from_sections(sections).save_params("PNG")
    write_png(target, pixels, params)
    _metadata.warn_not_kept("PNG", lost)


def write_png(target: Path | BinaryIO, pixels: np.ndarray, params: dict[str, Any]) -> None:
    """``pixels`` (H, W, 2 .. 4) uint16 as a 16-bit PNG with Pillow's metadata chunks
    for the save ``params`` (``Metadata.save_params("PNG")``'s), to a path or a binary
    file."""
    height, width, bands = pixels.shape
    head = io.BytesIO()
    Image.new("L", (1, 1)).save(head, format="PNG", **params)
    before, after = _metadata_chunks(head.getvalue())
    ihdr = struct.pack(">IIBBBBB", width, height, 16, _COLOUR_TYPE[bands], 0, 0, 0)
    with contextlib.ExitStack() as stack:
        f = target if hasattr(target, "write") else stack.enter_context(open(target, "wb"))
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
