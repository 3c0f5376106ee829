"""Pillow plugin for .l3c files; importing it registers format "L3C".

``Image.open`` parses only the fixed header (no torch import); the pixels are decoded
by ``L3cDecoder`` when Pillow loads the image. Save options (``img.save(f,
format="L3C", device="cuda", tile_size=512, workers=2, model="poly-small")``) arrive in
``im.encoderinfo``.
"""

from __future__ import annotations

from typing import IO

import numpy as np
from PIL import Image, ImageFile

from pillow_l3c import _codec, _format, _settings
from pillow_l3c.errors import L3cError

FORMAT = "L3C"
MIME = "image/x-l3c"
EXTENSION = ".l3c"


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(_format.MAGIC)


class L3cImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "L3C learned lossless image"

    def _open(self) -> None:
        try:
            header, metadata = _codec.read_header(self.fp)
        except L3cError as e:
            raise SyntaxError(str(e)) from None
        self._size = (header.width, header.height)
        self._mode = header.mode
        self.info["model_id"] = header.model_id.hex()
        self.info["l3c_version"] = header.version
        for tag, payload in metadata.items():
            self.info[_format.METADATA_TAGS[tag]] = payload
        self.info["l3c_tile_size"] = header.tile_size
        self.tile = [ImageFile._Tile("l3c", (0, 0, *self.size), self.fp.tell(), header)]


class L3cDecoder(ImageFile.PyDecoder):
    """Reads the tiles itself (``_pulls_fd``) and decodes them in parallel."""

    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        assert self.fd is not None
        header = self.args[0]
        try:
            # Pillow passes no options to load(): pillow_l3c.configure() sets these.
            pixels = _codec.decode_tiles(
                header,
                self.fd,
                _settings.decoding.device,
                _settings.decoding.workers,
                keep_truncated=ImageFile.LOAD_TRUNCATED_IMAGES,
            )
        except _format.TruncatedFileError as e:
            msg = f"image file is truncated ({e})"
            raise OSError(msg) from None
        # With LOAD_TRUNCATED_IMAGES, the tiles past the cut stay black, as Pillow
        # leaves the missing part of other formats.
        self.set_as_raw(pixels.tobytes())
        return -1, 0


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    if im.mode not in _format.MODES:
        msg = f"cannot write mode {im.mode} as L3C"
        raise OSError(msg)
    info = im.encoderinfo
    _codec.write(
        fp,
        np.asarray(im),
        im.mode,
        device=info.get("device"),
        metadata=_metadata(im),
        tile_size=info.get("tile_size"),
        workers=info.get("workers"),
        model=info.get("model"),
    )


def _metadata(im: Image.Image) -> dict[bytes, bytes]:
    """ICC profile, EXIF and XMP from the save parameters, else from ``im.info``,
    as Pillow's own PNG, JPEG and WebP plugins take them."""
    out: dict[bytes, bytes] = {}
    for tag, key in _format.METADATA_TAGS.items():
        value = im.encoderinfo.get(key, im.info.get(key))
        if isinstance(value, Image.Exif):
            value = value.tobytes()
        if isinstance(value, str):
            value = value.encode("utf-8")
        if value:
            out[tag] = bytes(value)
    return out


Image.register_open(FORMAT, L3cImageFile, _accept)
Image.register_save(FORMAT, _save)
Image.register_extension(FORMAT, EXTENSION)
Image.register_mime(FORMAT, MIME)
Image.register_decoder("l3c", L3cDecoder)
