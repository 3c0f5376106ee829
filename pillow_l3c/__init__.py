"""pillow_l3c: L3C learned lossless image compression as a Pillow and imageio format.

``import pillow_l3c`` registers format "L3C" with Pillow and, when imageio is
installed, with imageio. It imports neither torch nor the model: both load on the
first encode or decode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

__version__ = "0.3.0"
__all__ = [
    "CorruptStreamError",
    "L3cError",
    "ModelMismatchError",
    "TileTooLargeError",
    "configure",
    "decode",
    "encode",
    "models",
    "register",
]


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


def encode(
    pixels: np.ndarray,
    device: str | None = None,
    tile_size: int | None = None,
    workers: int | None = None,
    model: str | None = None,
) -> bytes:
    """An (H, W, 3) uint8 RGB array as the bytes of a .l3c file.

    ``tile_size`` (default: 512 for polyphase models, 256 for L3C) trades memory
    against bits; ``workers`` (default: one per core) is how many tiles are coded at
    once. Neither changes what decodes.
    ``model`` names a bundled model (``models()``); the file's header records it, so
    decoding needs no option.
    """
    from pillow_l3c import _codec

    return _codec.encode(
        pixels,
        "RGB",
        device=device,
        tile_size=tile_size,
        workers=workers,
        model=model,
    )


def models() -> dict[str, str]:
    """The available models: name -> model id (hex), the default first."""
    from pillow_l3c import _model

    files = sorted(_model.model_files(), key=lambda f: f.path != _model.weights_path())
    return {f.name: _model.model_id(f.path).hex() for f in files}


def decode(data: bytes, device: str | None = None, workers: int | None = None) -> np.ndarray:
    """The (H, W, 3) uint8 array stored in the bytes of a .l3c file."""
    from pillow_l3c import _codec

    return _codec.decode(data, device, workers)[1]


try:
    import imageio  # noqa: F401  (optional: only its absence may pass silently)
except ImportError:
    pass
else:
    from pillow_l3c import imageio_plugin

    imageio_plugin.register()
