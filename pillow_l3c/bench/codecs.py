"""The codecs that ``l3c bench`` compares, each as an encode and a decode function.

One adapter per codec, so that the measuring child calls every codec the same way:
an (H, W, 3) uint8 array in, bytes out, and back; or, for a 16-bit image, a uint16
array of (H, W), (H, W, 2), (H, W, 3) or (H, W, 4) in and the same back. L3C is this
package; the baselines are PNG through Pillow and WebP, JPEG 2000 and JPEG XL through
imagecodecs, which puts them all in one process on the same arrays (no command-line
tools, no file formats in between).

16-bit images: JPEG 2000 and JPEG XL take uint16 as they take uint8. PNG does too, but
Pillow cannot write a 16-bit RGB PNG, so a uint16 array goes to libpng through
imagecodecs at its maximum compression level (9) instead; an 8-bit one still goes
through Pillow with ``optimize=True``, as before. WebP has no 16-bit mode: it is "n/a"
for such an image (``inapplicable_reason``), neither measured nor an error.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from pillow_l3c._bench_args import codec_labels, is_l3c

_IMAGECODECS_FEATURE = {
    "webp": "WEBP",
    "jpeg2000": "JPEG2K",
    "jxl-e7": "JPEGXL",
    "jxl-e9": "JPEGXL",
}


#: zlib's maximum level, for 16-bit PNG through imagecodecs; libpng picks each row's
#: filter (its default for 16-bit images: all five, adaptively)
PNG16_LEVEL = 9
#: The sample types a codec has a mode for (n/a on others); one not listed takes all
_DEPTHS: dict[str, frozenset[str]] = {"webp": frozenset({"uint8"})}

Encoder = Callable[[np.ndarray], bytes]
Decoder = Callable[[bytes], np.ndarray]
CodecFunctions = Callable[..., tuple[Encoder, Decoder]]


def codec_functions(name: str, device: str | None = None) -> tuple[Encoder, Decoder]:
    """Encode and decode functions of one codec, importing only what it needs.

    Imports happen here, not at module level, so that a PNG child never pays for torch
    and an L3C child never for imagecodecs: both would show up in the baseline memory.
    """
    if is_l3c(name):
        import pillow_l3c

        model = name[4:] or None

        def l3c_encode(a: np.ndarray) -> bytes:
            return pillow_l3c.encode(a, device=device, model=model)

        def l3c_decode(data: bytes) -> np.ndarray:
            return pillow_l3c.decode(data, device=device)

        return l3c_encode, l3c_decode
    if name == "png":

        def png_encode(a: np.ndarray) -> bytes:
            if a.dtype == np.uint16:
                import imagecodecs

                return imagecodecs.png_encode(a, level=PNG16_LEVEL)
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "PNG", optimize=True)
            return buf.getvalue()

        def png_decode(data: bytes) -> np.ndarray:
            if data[24:25] == b"\x10":  # IHDR's bit depth: 16 (Pillow would give 8)
                import imagecodecs

                return imagecodecs.png_decode(data)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                return np.asarray(im)

        return png_encode, png_decode
    import imagecodecs

    # Every baseline gets the threads L3C gets (one per core): imagecodecs runs libjxl,
    # libwebp's encoder and OpenJPEG with one thread unless told, which would compare
    # our cores with their one. libwebp's decoder and Pillow's PNG take no thread count.
    threads = baseline_threads()
    if name == "webp":
        # level 100 with method 6 is libwebp's slowest, smallest lossless setting (cwebp -z 9)
        return (
            lambda a: imagecodecs.webp_encode(
                a, level=100, lossless=True, method=6, numthreads=threads
            ),
            imagecodecs.webp_decode,
        )
    if name == "jpeg2000":
        return (
            lambda a: imagecodecs.jpeg2k_encode(a, reversible=True, mct=True, numthreads=threads),
            lambda data: imagecodecs.jpeg2k_decode(data, numthreads=threads),
        )
    if name in ("jxl-e7", "jxl-e9"):
        effort = int(name[-1])
        return (
            lambda a: imagecodecs.jpegxl_encode(
                a, lossless=True, effort=effort, numthreads=threads
            ),
            lambda data: imagecodecs.jpegxl_decode(data, numthreads=threads),
        )
    msg = f"unknown codec {name!r}"
    raise ValueError(msg)


def baseline_threads() -> int:
    """The threads every codec of a run gets: L3C's default, one per core."""
    from pillow_l3c._threads import default_workers

    return default_workers()


def tiny_image(dtype: str = "uint8", channels: int = 3) -> np.ndarray:
    """An 8x8 noise image: enough to load a codec's libraries and model before timing.

    Of the measured image's sample type and channels, so that a 16-bit image's warm-up
    loads what its call will use (imagecodecs for PNG, L3C's 16-bit path).
    """
    rng = np.random.default_rng(0)
    if dtype == "uint8" and channels == 3:
        return rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    shape = (8, 8) if channels == 1 else (8, 8, channels)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def inapplicable_reason(name: str, dtype: str) -> str | None:
    """Why ``name`` is not run on images of ``dtype`` at all (None if it is run).

    Not an error: WebP has no 16-bit mode, and a report says "n/a" for it rather than
    a failure or a number measured on other pixels.
    """
    depths = _DEPTHS.get(name)
    if depths is None or dtype in depths:
        return None
    return "n/a (8-bit only)"


def unavailable_reason(name: str) -> str | None:
    """Why a baseline codec cannot run here (None if it can).

    An imagecodecs build may lack a codec, or have it and fail on use; a tiny round trip
    finds both before any child is started. L3C is not probed here, because that would
    import torch into the parent; a missing model shows up as an error per image.
    """
    if name not in _IMAGECODECS_FEATURE:
        return None
    try:
        import imagecodecs
    except ImportError:
        return "imagecodecs is not installed (pip install imagecodecs)"
    feature = getattr(imagecodecs, _IMAGECODECS_FEATURE[name], None)
    if feature is None or not getattr(feature, "available", False):
        return f"this imagecodecs build ({imagecodecs.__version__}) has no {codec_labels()[name]}"
    try:
        encode, decode = codec_functions(name)
        tiny = tiny_image()
        if not np.array_equal(np.asarray(decode(encode(tiny))), tiny):
            return "a round trip of an 8x8 test image is not exact"
    except Exception as e:  # any failure of a third-party codec means: skip it
        return f"{type(e).__name__}: {e}"
    return None
