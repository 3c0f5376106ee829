"""imageio v3 plugin for .l3c files.

imageio has no entry points for third-party plugins; ``register()`` adds this plugin
to ``imageio.config.known_plugins`` and ``.l3c`` to ``known_extensions`` at import of
pillow_l3c, after which ``imageio.v3.imread/imwrite/improps`` and the v2 ``imread``
select it by extension or by content.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from imageio.core.request import URI_BYTES, InitializationError, IOMode, Request
from imageio.core.v3_plugin_api import ImageProperties, PluginV3

from pillow_l3c import _codec, _format, _settings
from pillow_l3c.errors import L3cError

PLUGIN_NAME = "L3C"
BAND_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # uint8 arrays by their last axis


class L3cPlugin(PluginV3):
    """Reads and writes single-image .l3c files; ``device=`` selects CPU or CUDA."""

    def __init__(self, request: Request) -> None:
        """Accept ``request`` or refuse it with InitializationError.

        imageio tries plugins in turn and moves on to the next on that error, so a
        read is refused on the first bytes and a write on anything but a .l3c target.
        """
        super().__init__(request)
        self._header: _format.Header | None = None
        if request.mode.io_mode == IOMode.read:
            if not request.firstbytes.startswith(_format.MAGIC):
                msg = f"{request.raw_uri!r} is not an L3C file"
                raise InitializationError(msg)
        elif request.extension != ".l3c" and request.format_hint != ".l3c":
            msg = "the L3C plugin writes only to .l3c targets"
            raise InitializationError(msg)

    def _read_header(self) -> _format.Header:
        if self._header is None:
            fp = self.request.get_file()
            fp.seek(0)
            self._header = _format.read_header(fp)
        return self._header

    def read(self, *, index: int | None = 0, device: str | None = None) -> np.ndarray:
        """The image as an (H, W, bands) uint8 array, a grey one as (H, W).

        Grey comes back two-dimensional because that is what imageio's other plugins
        return for grey files; ``device`` overrides ``pillow_l3c.configure``'s.
        """
        if index not in (0, None, Ellipsis):
            msg = f"an L3C file holds one image; index {index} does not exist"
            raise IndexError(msg)
        fp = self.request.get_file()
        fp.seek(0)
        settings = _settings.decoding
        pixels = _codec.decode(fp, device or settings.device, settings.workers)[1]
        return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels  # grey as (H, W)

    def iter(self) -> Any:
        """Yield the file's one image: imageio's API allows many per file."""
        yield self.read()

    def write(
        self,
        ndimage: np.ndarray | list[np.ndarray],
        *,
        is_batch: bool = False,
        device: str | None = None,
        model: str | None = None,
    ) -> bytes | None:
        """Write one uint8 image, its mode told by its last axis (``BAND_MODES``).

        Returns the file's bytes when the target is ``"<bytes>"``, as imageio expects;
        anything the format cannot store exactly raises L3cError instead of being
        converted.
        """
        image = np.asarray(ndimage)
        if is_batch:
            if image.shape[0] != 1:
                msg = "an L3C file holds exactly one image"
                raise ValueError(msg)
            image = image[0]
        bands = 1 if image.ndim == 2 else image.shape[-1]
        mode = BAND_MODES.get(bands) if image.ndim in (2, 3) else None
        if image.dtype != np.uint8 or mode is None:
            msg = f"cannot write an array of shape {image.shape} and dtype {image.dtype} as L3C"
            raise L3cError(msg)
        data = _codec.encode(image, mode, device=device, model=model)
        self.request.get_file().write(data)
        if self.request._uri_type == URI_BYTES:
            return data
        return None

    def properties(self, index: int | None = 0) -> ImageProperties:
        """Shape and dtype from the header alone, without decoding."""
        h = self._read_header()
        shape = (h.height, h.width) if h.planes == 1 else (h.height, h.width, h.planes)
        return ImageProperties(shape=shape, dtype=np.dtype(np.uint8))

    def metadata(self, index: int | None = 0, exclude_applied: bool = True) -> dict[str, Any]:
        """The header's mode, model id and format version, without decoding.

        The model id says which model a file needs before anyone pays for a decode.
        """
        h = self._read_header()
        return {"mode": h.mode, "model_id": h.model_id.hex(), "l3c_version": h.version}


def register() -> None:
    """Make imageio select this plugin for .l3c files.

    imageio has no entry points for third-party plugins, so ``import pillow_l3c`` calls
    this to add the plugin and the extension to imageio's own tables.
    """
    from imageio import config

    config.known_plugins[PLUGIN_NAME] = config.PluginConfig(
        name=PLUGIN_NAME, class_name="L3cPlugin", module_name=__name__
    )
    ext = config.FileExtension(
        extension=".l3c",
        priority=[PLUGIN_NAME],
        name="L3C",
        description="L3C learned lossless image",
    )
    config.known_extensions[".l3c"] = [ext]
