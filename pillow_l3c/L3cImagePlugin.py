"""Pillow plugin for .l3c files; importing it registers format "L3C".

``Image.open`` parses only the fixed header (no torch import); the pixels are decoded
by ``L3cDecoder`` when Pillow loads the image. Save options (``img.save(f,
format="L3C", device="cuda", tile_size=512, workers=2, model="poly-small")``) arrive in
``im.encoderinfo``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import numpy as np
from PIL import Image, ImageFile, ImagePalette

from pillow_l3c import _codec, _format, _palette, _region, _settings
from pillow_l3c._metadata import Metadata, warn_not_kept
from pillow_l3c.errors import CorruptStreamError, L3cError

FORMAT = "L3C"
MAX_DRAFT_LEVEL = 9  # a 512 tile's pyramid ends at 8 pixels or more: 1/512 is plenty
MIME = "image/x-l3c"
EXTENSION = ".l3c"


# Pillow's modes of 16-bit grey, stored as a 16-bit L image and opened as I;16.
# Pillow has no mode for 16-bit LA, RGB or RGBA: pillow_l3c.decode and imageio read them.
DEEP_GREY = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
# Mode I (32-bit) is stored as 16-bit grey when every sample is in 0 .. 65535, as
# Pillow's PNG writer does; it opens as I;16.
WIDE_GREY = "I"


def _raw(mode: str) -> str:
    """Pillow's raw mode for the decoder's samples.

    Mode 1: 0 or 1 a byte; I;16: little-endian, as ``_as_samples`` gives them.
    """
    return "1;8" if mode == "1" else mode


def pillow_mode(header: _format.Header) -> str:
    """The Pillow mode of a file: its own, or I;16 for 16-bit grey.

    L3cError (an OSError, which ``Image.open`` raises as it is rather than "cannot
    identify") for a 16-bit mode that Pillow cannot hold.
    """
    if header.bits == 8:
        return header.mode
    if header.mode == "L":
        return "I;16"
    msg = (
        f"this L3C image is {header.mode} of 16 bits per sample, which Pillow has no mode "
        "for (it holds 16 bits only as grey, I;16): read it with pillow_l3c.decode or "
        "imageio.v3.imread, which give a uint16 array"
    )
    raise L3cError(msg)


def _as_samples(pixels: np.ndarray) -> bytes:
    """The bytes Pillow's raw decoder takes for ``pixels``: uint16 little-endian."""
    if pixels.dtype == np.uint16:
        return np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    return pixels.tobytes()


def image_like(im: Image.Image, pixels: np.ndarray) -> Image.Image:
    """An image of ``pixels`` with the mode, palette and info of .l3c image ``im``.

    ``pixels`` are (h, w, bands) as the codec decodes them: a crop's, a cluster task's.
    """
    size = pixels.shape[1::-1]
    out = Image.frombytes(im.mode, size, _as_samples(pixels), "raw", _raw(im.mode))
    if im.mode == "P" and im.palette is not None:
        out.putpalette(im.palette.palette, im.palette.mode)
    out.info = im.info.copy()
    return out


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(_format.MAGIC)


@contextmanager
def _as_pillow_truncation() -> Iterator[None]:
    """Raise for a cut file what Pillow's own plugins raise: "image file is truncated"."""
    try:
        yield
    except _format.TruncatedFileError as e:
        msg = f"image file is truncated ({e})"
        raise OSError(msg) from None


class L3cImageFile(ImageFile.ImageFile):
    """An opened .l3c file: size, mode and metadata from its header, pixels on ``load()``.

    Opening reads only the header, so that ``Image.open`` stays as cheap as for other
    formats (no torch, no model); the one tile Pillow is given stands for all of them.
    """

    format = FORMAT
    format_description = "L3C learned lossless image"
    # One image per file, stated as Pillow's multi-frame plugins state theirs, so that
    # code reading im.n_frames need not special-case L3C; seek(0) is Image.seek's and
    # seek(1) raises its EOFError.
    n_frames = 1
    is_animated = False

    def _open(self) -> None:
        self._l3c_start = self.fp.tell()
        self._l3c_reader: _region.TileReader | None = None
        try:
            header, metadata = _codec.read_header(self.fp)
            self._l3c_metadata = Metadata.from_sections(metadata)
            if header.mode == "P":
                palette_mode, entries = _palette.palette(metadata[_format.PALETTE_TAG])
                self.palette = ImagePalette.ImagePalette(palette_mode, entries)
                self.palette.dirty = 1  # Pillow hands it to the image core on load
                if _format.TRANSPARENCY_TAG in metadata:
                    trns = _palette.transparency(metadata[_format.TRANSPARENCY_TAG])
                    self.info["transparency"] = trns
        except _format.NewerFormatError:
            raise  # an OSError that says so, not "cannot identify image file"
        except L3cError as e:  # NotL3cError too: SyntaxError makes Pillow try other plugins
            raise SyntaxError(str(e)) from None
        self._size = (header.width, header.height)
        self._mode = pillow_mode(header)
        self.info.update(self._l3c_metadata.info())
        self.info["model_id"] = header.model_id.hex()
        self.info["l3c_version"] = header.version
        self.info["l3c_tile_size"] = header.tile_size
        self._l3c_header, self._l3c_level = header, 0
        self.tile = [ImageFile._Tile("l3c", (0, 0, *self.size), self.fp.tell(), (header, 0))]

    @property
    def text(self) -> dict[str, str]:
        """The stored PNG-style text chunks (key -> value), as ``PngImageFile.text``."""
        return self._l3c_metadata.text_values()

    def verify(self) -> None:
        """Check every section's CRC-32 and the tile count, without decoding.

        Reads the metadata sections and one tile section per tile of the header (its
        stream lengths and method index checked too), then closes the file, as
        ``PngImageFile.verify`` does. Decoding would check more (each tile's pixel
        CRC) but needs the model and torch; this reads the
        file once and raises what ``load()`` raises for the damage it finds:
        CorruptStreamError, or Pillow's "image file is truncated". Like Pillow's, it
        must be called directly after ``open``; to load, open the file again.
        """
        if self.fp is None:
            msg = "verify must be called directly after open"
            raise RuntimeError(msg)
        self.fp.seek(self._l3c_start)
        with _as_pillow_truncation():
            header, _ = _codec.read_header(self.fp)  # the metadata sections too
            for _ in range(header.tile_count()):
                payload = _format.read_tile(self.fp)
                if header.version >= 3:  # its lengths and method index: no CRC covers
                    content = _format.unpack_tile(payload)  # them against a resealed edit
                    _codec.tile_method(header, content.method)
        # Bytes appended after the last tile are ignored, as load() ignores them; another
        # tile section there means the file is not what its header (and CRC) describes.
        if self.fp.read(_format.SECTION_HEAD_BYTES)[:4] == _format.TILE_TAG:
            msg = f"L3C file has more than the {header.tile_count()} tile sections of its header"
            raise CorruptStreamError(msg)
        super().verify()

    def load_read(self, read_bytes: int) -> bytes:
        """Read from the file: Pillow's hook for decoders that are fed bytes, unused here.

        ``L3cDecoder`` reads the file itself (``_pulls_fd``), so ``load`` never calls
        this. Its presence tells ``ImageFile.Parser`` that the image cannot be decoded
        from pieces: the parser then keeps the bytes it is fed and loads the image
        from all of them at ``close()``, instead of feeding a decoder that has no file.
        """
        return self.fp.read(read_bytes)

    def draft(
        self, mode: str | None, size: tuple[int, int] | None
    ) -> tuple[str, tuple[int, int, int, int]] | None:
        """Decode at a pyramid level no smaller than ``size``, as JPEG's draft does.

        Level k holds the pixels [::2^k, ::2^k], 1/2^k of the image's width and
        height; the largest k whose image still covers ``size`` is chosen (k <= 9).
        Polyphase tiles of format 3 decode only their coarse scales, checked by their
        per-scale checksums (a thumbnail of a 24 MP photo takes a small part of a full
        decode); other tiles are decoded whole, one at a time, and decimated. The
        pixels are decimated, not filtered: ``thumbnail`` then resizes them, as it
        resizes a JPEG draft. The mode is never changed. Returns ``(mode, box)`` as
        Pillow's JPEG plugin does, or None once the image is loaded.
        """
        if not self.tile or size is None:
            return None
        header = self._l3c_header
        scale = min(header.width // max(1, size[0]), header.height // max(1, size[1]))
        level = min(max(scale, 1).bit_length() - 1, MAX_DRAFT_LEVEL)
        self._l3c_level = level
        self._size = (
            _codec.level_size(header.width, level),
            _codec.level_size(header.height, level),
        )
        offset = self.tile[0].offset
        self.tile = [ImageFile._Tile("l3c", (0, 0, *self.size), offset, (header, level))]
        box = (0, 0, header.width / (1 << level), header.height / (1 << level))
        return self.mode, box  # type: ignore[return-value]

    def crop(self, box: tuple[float, float, float, float] | None = None) -> Image.Image:
        """Before the image is loaded, decode only the tiles that cover ``box``.

        Pillow's own ``crop`` loads the whole image first (it has not been lazy since
        Pillow 3.4, and ``draft`` only offers JPEG's scaled decoding), so a plugin
        that wants a partial decode has to override it. Once loaded, or for the
        cases Pillow itself answers without pixels (no box, the whole image, an
        inverted box), this is Pillow's crop.
        """
        if box is None or not self.tile or box == (0, 0, *self.size) or self.fp is None:
            return super().crop(box)
        if self._l3c_level:  # a draft: the region reader works at full size
            return super().crop(box)
        if box[2] < box[0] or box[3] < box[1]:
            return super().crop(box)  # raises Pillow's ValueError
        x0, y0, x1, y1 = map(int, map(round, box))
        Image._decompression_bomb_check((abs(x1 - x0), abs(y1 - y0)))
        if self._l3c_reader is None:
            self.fp.seek(self._l3c_start)
            self._l3c_reader = _region.TileReader(self.fp)
        with _as_pillow_truncation():
            pixels = self._l3c_reader.read(
                (x0, y0, x1, y1),
                _settings.decoding.device,
                _settings.decoding.workers,
                keep_truncated=ImageFile.LOAD_TRUNCATED_IMAGES,
            )
        return image_like(self, pixels)


class L3cDecoder(ImageFile.PyDecoder):
    """Reads the tiles itself (``_pulls_fd``) and decodes them in parallel."""

    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        """Decode the whole image in one call, ignoring ``buffer``.

        Pillow's buffered decoding would hand over bytes in arbitrary pieces; tiles are
        only decodable whole, so the decoder reads the file itself and reports that it
        is done (-1) after the single call.
        """
        if self.fd is None:  # fed bytes (an ImageFile.Parser-like caller), not given the file
            msg = (
                "the L3C decoder reads whole tiles from the file itself and cannot be "
                "fed bytes; open the file with Image.open"
            )
            raise L3cError(msg)
        header, level = self.args
        with _as_pillow_truncation():
            # Pillow passes no options to load(): pillow_l3c.configure() sets these.
            pixels = _codec.decode_tiles(
                header,
                self.fd,
                _settings.decoding.device,
                _settings.decoding.workers,
                keep_truncated=ImageFile.LOAD_TRUNCATED_IMAGES,
                level=level,
            )
        # With LOAD_TRUNCATED_IMAGES, the tiles past the cut stay black, as Pillow
        # leaves the missing part of other formats.
        self.set_as_raw(_as_samples(pixels), _raw(self.mode))
        return -1, 0


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    pixels, mode = _pixels_to_save(im)
    info = im.encoderinfo
    options = _codec.options(
        model=info.get("model"),
        effort=info.get("effort"),
        tile_size=info.get("tile_size"),
        device=info.get("device"),
        workers=info.get("workers"),
        coder=info.get("coder"),
    )
    metadata, dropped = Metadata.from_image(im, info)
    warn_not_kept("L3C", dropped)
    sections = metadata.to_sections()
    if im.mode == "P":
        sections.update(_palette.sections(im))
    _codec.write(fp, pixels, mode, sections, options)


def _pixels_to_save(im: Image.Image) -> tuple[np.ndarray, str]:
    """The array and .l3c mode of an image to save.

    Its own mode, or 16-bit grey (L of uint16) for I;16 in any byte order and for I
    whose samples all fit 16 bits.
    """
    if im.mode in _format.MODES:
        return np.asarray(im), im.mode
    if im.mode in DEEP_GREY:
        return np.asarray(im).astype(np.uint16), "L"  # by value, whatever the byte order
    if im.mode == WIDE_GREY:
        pixels = np.asarray(im)
        if pixels.size and (pixels.min() < 0 or pixels.max() > 0xFFFF):
            msg = (
                f"cannot write mode I as L3C: samples from {pixels.min()} to {pixels.max()} "
                "do not fit 16 bits (0 .. 65535)"
            )
            raise OSError(msg)
        return pixels.astype(np.uint16), "L"
    msg = f"cannot write mode {im.mode} as L3C"
    raise OSError(msg)


Image.register_open(FORMAT, L3cImageFile, _accept)
Image.register_save(FORMAT, _save)
Image.register_extension(FORMAT, EXTENSION)
Image.register_mime(FORMAT, MIME)
Image.register_decoder("l3c", L3cDecoder)
