"""imageio v3 plugin for .l3c files.

imageio has no entry points for third-party plugins; ``register()`` adds this plugin
to ``imageio.config.known_plugins`` and ``.l3c`` to ``known_extensions`` at import of
pillow_l3c, after which ``imageio.v3.imread/imwrite/improps`` and the v2 ``imread``
select it by extension or by content.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from imageio.core.request import URI_BYTES, InitializationError, IOMode, Request
from imageio.core.util import Array
from imageio.core.v3_plugin_api import ImageProperties, PluginV3

from pillow_l3c import _BAND_MODES, _array_mode, _codec, _format, _settings
from pillow_l3c._metadata import Metadata
from pillow_l3c.errors import L3cError

PLUGIN_NAME = "L3C"
BAND_MODES = _BAND_MODES  # uint8 arrays by their last axis, as ``pillow_l3c.encode`` takes them
# EXIF orientation -> the numpy form of the transpose ``PIL.ImageOps.exif_transpose``
# applies (FLIP_LEFT_RIGHT, ROTATE_180, FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270,
# TRANSVERSE, ROTATE_90); rows and columns are the first two axes in every mode.
_ORIENTATIONS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


class L3cPlugin(PluginV3):
    """Reads and writes single-image .l3c files; ``device=`` selects CPU or CUDA."""

    def __init__(self, request: Request) -> None:
        """Accept ``request`` or refuse it with InitializationError.

        imageio tries plugins in turn and moves on to the next on that error, so a
        read is refused on the first bytes and a write on anything but a .l3c target.
        """
        super().__init__(request)
        self._header: tuple[_format.Header, Metadata] | None = None
        if request.mode.io_mode == IOMode.read:
            if not request.firstbytes.startswith(_format.MAGIC):
                msg = f"{request.raw_uri!r} is not an L3C file"
                raise InitializationError(msg)
        elif request.extension != ".l3c" and request.format_hint != ".l3c":
            msg = "the L3C plugin writes only to .l3c targets"
            raise InitializationError(msg)

    def _read_header(self) -> tuple[_format.Header, Metadata]:
        if self._header is None:
            fp = self.request.get_file()
            fp.seek(0)
            header, sections = _codec.read_header(fp)
            self._header = header, Metadata.from_sections(sections)
        return self._header

    def read(
        self, *, index: int | None = 0, rotate: bool = False, device: str | None = None
    ) -> np.ndarray:
        """The image as an (H, W, bands) array, a grey one as (H, W).

        uint8, or uint16 for a file of 16 bits per sample.
        Grey comes back two-dimensional because that is what imageio's other plugins
        return for grey files; ``device`` overrides ``pillow_l3c.configure``'s.
        ``rotate=True`` applies the EXIF orientation, as imageio's Pillow plugin does
        and with the pixels of ``PIL.ImageOps.exif_transpose``. The array is an
        ``imageio.core.util.Array`` whose ``.meta`` is ``metadata()`` of the pixels
        returned (an applied orientation left out): that is what ``imageio.v2.imread``
        hands its caller; ``imageio.v3.imread`` returns a plain array.
        """
        _check_index(index)
        fp = self.request.get_file()
        fp.seek(0)
        settings = _settings.decoding
        pixels = _codec.decode(fp, device or settings.device, settings.workers)[1]
        if pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]  # grey as (H, W)
        meta = self.metadata(exclude_applied=False)
        orientation = meta.get("Orientation")
        if rotate and orientation in _ORIENTATIONS:
            pixels = np.ascontiguousarray(_ORIENTATIONS[orientation](pixels))
        if rotate:
            meta.pop("Orientation", None)
        return Array(pixels, meta)

    def iter(self, *, rotate: bool = False, device: str | None = None) -> Iterator[np.ndarray]:
        """Yield the file's one image: imageio's API allows many per file."""
        yield self.read(rotate=rotate, device=device)

    def write(
        self,
        ndimage: np.ndarray | list[np.ndarray],
        *,
        is_batch: bool | None = None,
        device: str | None = None,
        model: str | None = None,
        tile_size: int | None = None,
        workers: int | None = None,
        icc_profile: bytes | None = None,
        exif: Any = None,
        xmp: bytes | None = None,
        dpi: tuple[float, float] | None = None,
        comment: bytes | str | None = None,
        text: dict[str, str] | None = None,
        effort: int | None = None,
        coder: str | None = None,
    ) -> bytes | None:
        """Write one uint8 or uint16 image, its mode told by its last axis (``BAND_MODES``).

        A list, or an array with one more axis in front (``is_batch``, inferred as
        imageio's Pillow plugin infers it), is a batch: one image in it is written, more
        raise ValueError, since .l3c holds one. The metadata (``exif`` bytes or a
        ``PIL.Image.Exif``, ``icc_profile``, ``xmp``, ``comment``, ``dpi``, ``text`` a
        dict of text chunks) is stored as ``Image.save(..., format="L3C")`` stores it;
        ``tile_size``, ``workers``, ``device`` and ``model`` are ``pillow_l3c.encode``'s.
        Returns the file's bytes when the target is ``"<bytes>"``, as imageio expects;
        an array the format cannot store exactly raises L3cError instead of being
        converted.
        """
        image = _one_image(ndimage, is_batch)
        mode = _array_mode(image)
        if image.dtype.newbyteorder("=") not in (np.uint8, np.uint16) or mode is None:
            msg = f"cannot write an array of shape {image.shape} and dtype {image.dtype} as L3C"
            raise L3cError(msg)
        options = _codec.options(model, effort, tile_size, device, workers, coder)
        params = {
            "icc_profile": icc_profile,
            "exif": exif,
            "xmp": xmp,
            "dpi": dpi,
            "comment": comment,
            "text": text,
        }
        sections = Metadata.from_info({}, params).to_sections()
        data = _codec.encode(image, mode, sections, options)
        self.request.get_file().write(data)
        if self.request._uri_type == URI_BYTES:
            return data
        return None

    def properties(self, index: int | None = 0) -> ImageProperties:
        """Shape and dtype from the header alone, without decoding."""
        _check_index(index)
        h = self._read_header()[0]
        shape = (h.height, h.width) if h.planes == 1 else (h.height, h.width, h.planes)
        return ImageProperties(shape=shape, dtype=np.dtype(_codec.sample_type(h)))

    def metadata(self, index: int | None = 0, exclude_applied: bool = True) -> dict[str, Any]:
        """The file's metadata from its header, without decoding (nor importing torch).

        The keys are those imageio's Pillow plugin gives for the same image, so that a
        switch from .png to .l3c changes nothing: Pillow's ``info`` (icc_profile, exif,
        xmp, comment, dpi, each text chunk under its key, and the file's model_id,
        l3c_version, l3c_tile_size; the model id says which model a file needs before
        anyone pays for a decode), ``mode``, ``shape`` as Pillow's ``(width,
        height)``, and each EXIF tag under its name. ``exclude_applied`` leaves out
        "Orientation", as imageio's Pillow plugin does: what ``read(rotate=True)``
        applies.
        """
        _check_index(index)
        h, meta = self._read_header()
        out = meta.info()
        out.update(model_id=h.model_id.hex(), l3c_version=h.version, l3c_tile_size=h.tile_size)
        # Pillow's name of 16-bit grey; 16-bit colour has none in Pillow, and keeps its own
        mode = "I;16" if h.bits == 16 and h.mode == "L" else h.mode
        out.update(mode=mode, shape=(h.width, h.height))
        out.update(_exif_tags(out))
        if exclude_applied:
            out.pop("Orientation", None)
        return out


def _check_index(index: int | None) -> None:
    if index not in (0, None, Ellipsis):
        msg = f"an L3C file holds one image; index {index} does not exist"
        raise IndexError(msg)


def _one_image(ndimage: Any, is_batch: bool | None) -> np.ndarray:
    """The one image of what ``write`` was given; a batch of any other length is refused.

    ``is_batch`` is inferred as imageio's Pillow plugin infers it, so that an array it
    writes is written here too: a list is a batch, and so is an array of three axes
    whose last is not 1 to 4 bands, or of more axes (Pillow's plugin refuses one band).
    """
    if isinstance(ndimage, list):
        image, is_batch = np.stack([np.asarray(a) for a in ndimage]), True
    else:
        image = np.asarray(ndimage)
    if is_batch is None:
        is_batch = image.ndim > 3 or (image.ndim == 3 and image.shape[-1] not in _BAND_MODES)
    if not is_batch:
        return image
    if image.ndim == 0 or image.shape[0] != 1:
        msg = f"an L3C file holds one image, got {image.shape[0] if image.ndim else 0}"
        raise ValueError(msg)
    return image[0]


def _exif_tags(info: dict[str, Any]) -> dict[str, Any]:
    """The EXIF tags of Pillow ``info`` by name, as imageio's Pillow plugin adds them.

    Pillow's own ``getexif`` reads them (the EXIF block, else an orientation in the
    XMP), so that ``read(rotate=True)`` turns exactly as ``exif_transpose`` does.
    """
    from PIL import ExifTags, Image

    im = Image.new("L", (1, 1))
    im.info = dict(info)
    tags = {ExifTags.TAGS.get(key, "unknown"): value for key, value in im.getexif().items()}
    tags.pop("unknown", None)
    return tags


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
