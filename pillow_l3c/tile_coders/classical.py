"""The classical tile coder: WebP lossless (VP8L) through Pillow, for screen content.

Why WebP lossless: on screenshots, plots, diagrams, pixel art and logos it is what
wins (palettes, colour cache, LZ77 copies of repeated glyphs, exact prediction on
flat colour), its encoder and decoder are in every Pillow wheel (Pillow carries
libwebp), and it measured smaller than PNG/zlib on every synthetic tile, bilevel
text too (benchmarks/classical_sizes.py; a 1-bit PNG never won a tile, so there is
no PNG path). JPEG XL e9 is close on some kinds but is only
in imagecodecs, an optional extra, and a file must decode wherever the package
installs.

One stream per tile: a tag byte, then the payload.

* ``TAG_VP8L`` (1): a VP8L bitstream, the WebP file without its 20 bytes of RIFF and
  chunk header (rebuilt on decode: they hold nothing but two lengths, and 20 bytes is
  a tenth of a 16 px icon's tile).
  Other tags are refused: they are left for coders measured better later.

How each mode is held:

* ``RGB`` as RGB, ``RGBA`` as RGBA with ``exact`` (the colour under alpha 0 is kept:
  the container's checksum covers it). A fully opaque RGBA tile is written by libwebp
  without alpha and read back as RGB; decode fills alpha 255.
* ``L`` as RGB with R=G=B (VP8L has no grey; its subtract-green transform makes the
  two copies almost free), read back as one band; ``LA`` as RGBA with R=G=B.
* ``P``: the index plane (h, w, 1), stored as grey; the palette is the container's.
  VP8L builds its own palette of the indices used, so nothing is lost to the detour.
* ``1``: the 0/1 plane (h, w, 1) uint8 with values 0 and 1 (what ``np.asarray`` of a
  mode-1 image gives, as bool, cast to uint8); values 0 and 255 are refused, so the
  container never has to guess which convention a tile used. Stored as grey 0/255
  (VP8L packs two-colour images eight pixels a symbol).

Decoding checks the rebuilt file's size and mode before decoding it (Pillow opens
lazily), and every failure is a ``CorruptStreamError`` that says what was wrong.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
from PIL import Image

from pillow_l3c.errors import CorruptStreamError
from pillow_l3c.tile_coders.base import EncodeOptions, Method, as_tile, pixel_checksums

NAME = "webp-lossless"
TAG_VP8L = 1

# Bands of each mode's tile, as the container hands them over.
BANDS = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2, "P": 1, "1": 1}

# EncodeOptions.effort 1..9 -> (WebP method, quality): libwebp's own lossless levels
# (``cwebp -z``, WebPConfigLosslessPreset), so effort 9 is ``cwebp -z 9`` (m6 q100).
# The default, 7, is already libwebp's best: on screenshots and plots it is 8% smaller
# than 7's (4, 90) and its encode time (about 0.6 s a 512 tile, measured in
# benchmarks/classical_sizes.py) is within the learned model's, so no effort pays
# WebP's 20 to 40 times slower top level less than the default does.
EFFORT_TO_WEBP = {
    1: (1, 20),
    2: (2, 25),
    3: (3, 30),
    4: (3, 50),
    5: (4, 50),
    6: (4, 90),
    7: (6, 100),
    8: (6, 100),
    9: (6, 100),
}


class ClassicalCoder:
    """WebP lossless per tile (see the module docstring); stateless and thread-safe."""

    @property
    def method(self) -> Method:
        return Method.classical(NAME)

    def stream_count(self, mode: str, height: int, width: int) -> int:
        _bands(mode)
        return 1

    def checksums(self, pixels: np.ndarray) -> list[int]:
        return pixel_checksums(pixels)

    def encode_tile(self, pixels: np.ndarray, mode: str, options: EncodeOptions) -> list[bytes]:
        require_webp()
        pixels = _check_tile(pixels, mode)
        img = _to_image(pixels, mode)
        method, quality = EFFORT_TO_WEBP[min(max(int(options.effort), 1), 9)]
        return [bytes([TAG_VP8L]) + _vp8l(img, method, quality)]

    def decode_tile(self, streams: list[bytes], mode: str, height: int, width: int) -> np.ndarray:
        bands = _bands(mode)
        if len(streams) != 1:
            msg = f"a {NAME} tile has 1 stream, got {len(streams)}"
            raise CorruptStreamError(msg)
        stream = bytes(streams[0])
        if not stream:
            msg = f"empty {NAME} tile stream"
            raise CorruptStreamError(msg)
        tag, payload = stream[0], stream[1:]
        if tag != TAG_VP8L:
            msg = f"unknown {NAME} tile format tag {tag}"
            raise CorruptStreamError(msg)
        arr = _decode(_riff(payload), "WEBP", mode, height, width)
        return _from_array(arr, mode, bands)


def _bands(mode: str) -> int:
    try:
        return BANDS[mode]
    except KeyError:
        msg = f"the {NAME} coder has no mode {mode!r}"
        raise ValueError(msg) from None


def _check_tile(pixels: np.ndarray, mode: str) -> np.ndarray:
    pixels = as_tile(pixels, mode, _bands(mode))
    h, w = pixels.shape[:2]
    if not (1 <= h <= 16383 and 1 <= w <= 16383):
        msg = f"a {NAME} tile is 1..16383 pixels a side, got {w}x{h}"
        raise ValueError(msg)
    return np.ascontiguousarray(pixels)


def _to_image(pixels: np.ndarray, mode: str) -> Image.Image:
    """The tile as the RGB or RGBA image VP8L codes."""
    if mode in ("RGB", "RGBA"):
        return Image.fromarray(pixels, mode)
    if mode == "LA":
        g, a = pixels[:, :, 0], pixels[:, :, 1]
        return Image.fromarray(np.stack([g, g, g, a], axis=2), "RGBA")
    plane = pixels[:, :, 0] * np.uint8(255) if mode == "1" else pixels[:, :, 0]
    return Image.fromarray(np.repeat(plane[:, :, None], 3, axis=2), "RGB")


def _vp8l(img: Image.Image, method: int, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "WEBP", lossless=True, quality=quality, method=method, exact=True)
    data = buf.getvalue()
    # A lossless still image is RIFF <size> WEBP VP8L <size> <bitstream> [pad].
    if data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8L":
        msg = "libwebp wrote something other than a simple lossless WebP file"
        raise RuntimeError(msg)
    (n,) = struct.unpack_from("<I", data, 16)
    return data[20 : 20 + n]


def _riff(bitstream: bytes) -> bytes:
    n = len(bitstream)
    pad = b"\0" * (n & 1)
    return (
        b"RIFF"
        + struct.pack("<I", 12 + n + len(pad))
        + b"WEBPVP8L"
        + struct.pack("<I", n)
        + bitstream
        + pad
    )


# What Image.open must report for each mode before the tile is decoded (libwebp writes
# a fully opaque RGBA tile without alpha).
EXPECTED_MODES = {
    "WEBP": {"RGB": ("RGB",), "L": ("RGB",), "P": ("RGB",), "1": ("RGB",),
             "RGBA": ("RGBA", "RGB"), "LA": ("RGBA", "RGB")},
}  # fmt: skip


def require_webp() -> None:
    """Refuse clearly where Pillow was built without libwebp (its PyPI wheels have it):
    a classical tile would otherwise read as damaged."""
    from PIL import features

    from pillow_l3c.errors import L3cError

    if not features.check("webp"):
        msg = (
            "this Pillow has no WebP support (PIL.features.check('webp') is False), which "
            "classical tiles need: install Pillow's wheel from PyPI, or a build with libwebp"
        )
        raise L3cError(msg)


def _decode(data: bytes, fmt: str, mode: str, height: int, width: int) -> np.ndarray:
    require_webp()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data), formats=[fmt])
            if img.size != (width, height):
                w, h = img.size
                msg = f"{NAME} tile: the {fmt} stream holds {w}x{h}, the tile is {width}x{height}"
                raise CorruptStreamError(msg)
            if img.mode not in EXPECTED_MODES[fmt][mode]:
                msg = f"{NAME} tile: a {mode} tile's {fmt} stream decodes as mode {img.mode}"
                raise CorruptStreamError(msg)
            img.load()
            arr = np.asarray(img)
    except CorruptStreamError:
        raise
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, EOFError...
        msg = f"{NAME} tile: the {fmt} stream does not decode ({type(e).__name__}: {e})"
        raise CorruptStreamError(msg) from e
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[:2] != (height, width):
        msg = f"{NAME} tile: decoded {arr.shape[1]}x{arr.shape[0]}, expected {width}x{height}"
        raise CorruptStreamError(msg)
    return arr


def _from_array(arr: np.ndarray, mode: str, bands: int) -> np.ndarray:
    """The tile's own bands from the decoded RGB/RGBA array."""
    if mode in ("RGB", "RGBA"):
        if arr.shape[2] == bands:
            return np.ascontiguousarray(arr)
        out = np.full((*arr.shape[:2], 4), 255, np.uint8)
        out[:, :, :3] = arr
        return out
    g = arr[:, :, :1]
    if not (np.array_equal(arr[:, :, 1:2], g) and np.array_equal(arr[:, :, 2:3], g)):
        msg = f"{NAME} tile: a {mode} tile decodes with R, G and B not equal"
        raise CorruptStreamError(msg)
    if mode == "1":
        if not np.isin(g, (0, 255)).all():
            msg = f"{NAME} tile: a mode-1 tile decodes with values other than 0 and 255"
            raise CorruptStreamError(msg)
        return np.ascontiguousarray(g >> 7)
    if mode == "LA":
        alpha = arr[:, :, 3:4] if arr.shape[2] == 4 else np.full_like(g, 255)
        return np.ascontiguousarray(np.concatenate([g, alpha], axis=2))
    return np.ascontiguousarray(g)


def tile_features(pixels: np.ndarray) -> dict[str, float]:
    """What ``prefers_classical`` looks at, cheaply (a few ms for a 512 tile).

    ``colours``: distinct pixel values (all bands together); ``flat``: the fraction of
    pixels equal, in every band, to their left or their upper neighbour. Photos have
    thousands of colours and almost no exact repeats (sensor noise); screen content
    is the opposite, and these two are what VP8L's palette and copy modes feed on.
    """
    p = np.ascontiguousarray(pixels)
    if p.ndim == 2:
        p = p[:, :, None]
    h, w, b = p.shape
    packed = np.zeros((h, w), np.uint32)
    for i in range(b):
        packed |= p[:, :, i].astype(np.uint32) << np.uint32(8 * i)
    colours = int(np.unique(packed).size)
    same = np.zeros((h, w), bool)
    same[:, 1:] = packed[:, 1:] == packed[:, :-1]
    same[1:, :] |= packed[1:, :] == packed[:-1, :]
    return {"colours": colours, "flat": float(same.mean()), "pixels": h * w}


# Thresholds of prefers_classical, set on the synthetic set's 512 tiles (every full
# tile there has flat >= 0.75 and under 2300 colours) and checked on the val photos
# (full tiles: flat <= 0.64 -- smooth wallpapers downscaled -- and >= 16000 colours;
# thin edge strips >= 0.1 colours a pixel), benchmarks/classical_sizes.py.
SMALL_TILE = 4096  # pixels: too few to judge, and coding both costs little
SURE_COLOURS = 256  # a palette: VP8L codes indices; no photo tile of 4096 px has so few
SURE_FLAT = 0.8  # pixels repeating a neighbour exactly: photos reach 0.64 at most
FLAT_FEW_COLOURS = (0.5, 1 / 64)  # flat >= 0.5 with <= 1/64 colours a pixel (gradients)
PHOTO = (0.3, 0.05)  # flat < 0.3 with > 0.05 colours a pixel: sensor noise, learned


def prefers_classical(pixels: np.ndarray, mode: str) -> bool | None:
    """Which coder a tile surely wants: True classical, False learned, None unsure.

    An encoder codes a None tile both ways and keeps the smaller, so only True and
    False can cost bytes: True on a photo would cost bits against the learned model,
    so its thresholds keep a wide margin from every val photo tile; False on screen
    content would cost the classical coder's gain (no synthetic tile comes near it).
    """
    if mode in ("P", "1"):
        return True  # an index or 0/1 plane is no photograph; the learned model codes neither
    p = np.asarray(pixels)
    n = p.shape[0] * p.shape[1]
    if n < SMALL_TILE:
        return None
    f = tile_features(p)
    ratio = f["colours"] / n
    if f["colours"] <= SURE_COLOURS or f["flat"] >= SURE_FLAT:
        return True
    if f["flat"] >= FLAT_FEW_COLOURS[0] and ratio <= FLAT_FEW_COLOURS[1]:
        return True
    if f["flat"] < PHOTO[0] and ratio > PHOTO[1]:
        return False
    return None
