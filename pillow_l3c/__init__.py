"""pillow_l3c: L3C learned lossless image compression as a Pillow and imageio format.

``import pillow_l3c`` registers format "L3C" with Pillow and, when imageio is
installed, with imageio. It imports neither torch nor the model: both load on the
first encode or decode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from pillow_l3c import (
    L3cImagePlugin,  # noqa: F401  (importing it registers the format)
    _settings,
)
from pillow_l3c.errors import (
    CorruptStreamError,
    L3cError,
    ModelMismatchError,
    TileTooLargeError,
)

if TYPE_CHECKING:
    import numpy as np

__version__ = "0.5.0"
__all__ = [
    "CorruptStreamError",
    "L3cError",
    "ModelMismatchError",
    "TileTooLargeError",
    "configure",
    "decode",
    "encode",
    "models",
    "read_metadata",
    "register",
]

# The mode of a uint8 array by its last axis, for the callers that take arrays without
# a mode (``encode`` and the imageio plugin): a two-dimensional array is grey.
_BAND_MODES: dict[int, str] = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
# The keys ``encode(metadata=...)`` stores besides text chunks, and those that describe
# a .l3c file's coding (``Image.open(...).info``, ``read_metadata``): the new file
# gets its own, so they are taken and ignored, and a read file's metadata round-trips.
_STORED_KEYS = frozenset({"icc_profile", "exif", "xmp", "dpi", "comment", "text"})
_HEADER_KEYS = frozenset({"model_id", "l3c_version", "l3c_tile_size"})


def configure(
    device: str | None = None,
    workers: int | None = None,
    max_tile_pixels: int | None = _settings.DEFAULT_MAX_TILE_PIXELS,
) -> None:
    """Choose how ``Image.open(...).load()`` and imageio reads decode.

    Those calls take no codec options, so the device ("cpu", "cuda") and the number
    of tiles decoded at once (default: one per core) are set here, for the process.
    ``max_tile_pixels`` bounds the memory one tile may take: a file whose tiles are
    larger (2048 x 2048 by default; this package writes 512) raises
    ``TileTooLargeError`` instead of exhausting memory; ``None`` lifts the limit for
    trusted files, as ``Image.MAX_IMAGE_PIXELS = None`` does for Pillow's. Each call
    sets all three.
    """
    _settings.decoding.device = device
    _settings.decoding.workers = workers
    _settings.decoding.max_tile_pixels = max_tile_pixels


def register(device: str | None = None, workers: int | None = None) -> None:
    """The former name of ``configure`` (the format is registered at import).

    It keeps the tile limit as it is: it predates ``max_tile_pixels``.
    """
    configure(device, workers, _settings.decoding.max_tile_pixels)


def _array_mode(pixels: np.ndarray) -> str | None:
    """The mode of an (H, W) or (H, W, bands) array by ``_BAND_MODES``; None for other shapes.

    One rule for every caller that takes a bare array, so that ``encode`` and
    ``imageio.v3.imwrite`` store the same array in the same mode.
    """
    if pixels.ndim == 2:
        return "L"
    return _BAND_MODES.get(pixels.shape[2]) if pixels.ndim == 3 else None


def encode(
    pixels: np.ndarray,
    device: str | None = None,
    tile_size: int | None = None,
    workers: int | None = None,
    model: str | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
    effort: int | None = None,
    coder: str | None = None,
) -> bytes:
    """A uint8 or uint16 array as the bytes of a .l3c file, its mode told by its shape.

    (H, W) and (H, W, 1) are grey (L), (H, W, 2) grey with alpha (LA), (H, W, 3) RGB
    and (H, W, 4) RGBA (``_BAND_MODES``); anything else raises ValueError, since a
    lossless codec must not guess a conversion. uint16 is stored with 16 bits per
    sample (in either byte order, by value); a tile whose samples use fewer bits (a
    12-bit camera's, left- or right-aligned) costs what those bits cost.
    ``tile_size`` (default: 512 for polyphase models, 256 for L3C) trades memory
    against bits; ``workers`` (default: one per core) is how many tiles are coded at
    once. Neither changes what decodes.
    ``model`` names a bundled model (``models()``); the file's header records it, so
    decoding needs no option.
    ``metadata`` takes what Pillow's ``im.info`` holds: ``icc_profile``, ``exif``,
    ``xmp`` and ``comment`` (bytes), ``dpi`` (two numbers), ``text`` (a dict of text
    chunks) and text chunks as str values under their own key, so that
    ``read_metadata``'s result (or ``Image.open(...).info``) is stored again as it
    was. What .l3c cannot hold (a PNG gamma, ...) is warned about
    (``MetadataNotKeptWarning``); any other non-str entry raises ValueError.
    ``effort`` (1 .. 9, default 7) is how hard the encoder searches; it never changes
    how a file decodes. ``coder`` is "auto" (default: a learned model for photographic
    tiles, the classical coder for synthetic ones, each tile's choice), "learned" or
    "classical".
    """
    import numpy as np

    from pillow_l3c import _codec
    from pillow_l3c._metadata import warn_not_kept

    array = np.asarray(pixels)
    mode = _array_mode(array)
    if mode is None:
        msg = (
            "pillow_l3c.encode needs a uint8 or uint16 array of shape (H, W) or (H, W, bands) "
            "with 1 "
            f"to 4 bands, got {array.dtype} {array.shape}"
        )
        raise ValueError(msg)
    options = _codec.options(model, effort, tile_size, device, workers, coder)
    sections, dropped = _metadata_sections(metadata, mode)
    warn_not_kept("L3C", dropped)
    return _codec.encode(array, mode, sections, options)


def _metadata_sections(
    metadata: Mapping[str, Any] | None, mode: str
) -> tuple[dict[bytes, bytes], list[str]]:
    """Sections for ``encode(metadata=...)`` and what of it .l3c cannot hold.

    The rules are Pillow's for ``im.info``, so that a dict from ``read_metadata`` or
    ``Image.open(...).info`` is stored as the Pillow plugin would store that image.
    """
    from types import SimpleNamespace

    from pillow_l3c._metadata import NOT_STORED, Metadata, text_in_info

    if metadata is None:
        return {}, []
    if not isinstance(metadata, Mapping):
        msg = f"metadata must be a dict, got {type(metadata).__name__}"
        raise TypeError(msg)
    info = dict(metadata)
    text = info.pop("text", None)
    if text is not None and not isinstance(text, Mapping):
        msg = f"text must be a dict of str to str, got {type(text).__name__}"
        raise TypeError(msg)
    unknown = [
        repr(k)
        for k, v in info.items()
        if not isinstance(v, str) and k not in _STORED_KEYS | _HEADER_KEYS | set(NOT_STORED)
    ]
    if unknown:
        msg = (
            f"metadata {', '.join(unknown)} is not stored in .l3c: give icc_profile, exif, "
            "xmp, dpi, comment, text (a dict), or a text chunk as a str"
        )
        raise ValueError(msg)
    # Text chunks: the str entries, as Pillow's info holds them, then ``text``'s.
    chunks = {**text_in_info(info), **(text or {})}
    image = SimpleNamespace(info=info, mode=mode)  # what from_image reads of an image
    meta, dropped = Metadata.from_image(image, {"text": chunks})
    return meta.to_sections(), dropped


def models() -> dict[str, str]:
    """The available models: name -> model id (hex), the default first."""
    from pillow_l3c import _model

    files = sorted(_model.model_files(), key=lambda f: f.path != _model.weights_path())
    return {f.name: _model.model_id(f.path).hex() for f in files}


def decode(data: bytes, device: str | None = None, workers: int | None = None) -> np.ndarray:
    """The pixels stored in the bytes of a .l3c file.

    uint8, or native uint16 for a file of 16 bits per sample.
    Grey comes back as (H, W), as ``np.asarray`` of a Pillow "L" image and imageio give
    it, so that ``decode(encode(a))`` equals ``a`` for a two-dimensional ``a``; other
    modes as (H, W, bands): 2 for LA, 3 for RGB, 4 for RGBA. The metadata stored with
    the pixels is ``read_metadata(data)``.
    """
    from pillow_l3c import _codec

    pixels = _codec.decode(data, device, workers)[1]
    return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels


def read_metadata(data: bytes | BinaryIO) -> dict[str, Any]:
    """The metadata of a .l3c file (bytes, or a binary file at its start), as Pillow's info.

    The keys are those of ``Image.open(...).info``: icc_profile, exif, xmp, comment,
    dpi, each text chunk under its key, and the file's model_id, l3c_version and
    l3c_tile_size. Only the header is read, so it costs neither a decode nor a torch
    import; it is how ``encode``/``decode`` users get back what ``metadata=`` stored.
    """
    import io

    from pillow_l3c import _codec
    from pillow_l3c._metadata import Metadata

    fp = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    header, sections = _codec.read_header(fp)
    info = Metadata.from_sections(sections).info()
    info.update(
        model_id=header.model_id.hex(),
        l3c_version=header.version,
        l3c_tile_size=header.tile_size,
    )
    return info


try:
    import imageio  # noqa: F401  (optional: only its absence may pass silently)
except ImportError:
    pass
else:
    from pillow_l3c import imageio_plugin

    imageio_plugin.register()
