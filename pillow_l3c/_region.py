"""Random access to the tiles of a .l3c file: decode a region, not the image.

Tiles are coded independently (docs/FORMAT.md, "Tiles"), so a reader needs only the
tiles that cover a region. Their sections are found by walking the section heads (8
bytes each), never reading the coded data of other tiles; the walk is done once per
reader. No checksum covers a skipped length, so a walk is trusted as it is only when
it accounts for the whole file: exactly one tile section per tile, the last ending at
the file's end. Any other walk (it finds fewer sections, or ends before the file
does) is checked by the CRC of every section it found, once (only then is other
tiles' data read): a truncated file keeps the tiles before the cut, a file with bytes
appended after its last tile (padding, a copy tool's trailer) is accepted as whole,
as ``load()`` accepts it, and a damaged length, which would place later tiles at the
wrong position, raises. Used by ``L3cImageFile.crop`` before the image is loaded and
by ``pillow_l3c.dask_array``.
"""

from __future__ import annotations

import io
import threading
from typing import BinaryIO

import numpy as np

from pillow_l3c import _codec, _format
from pillow_l3c._format import SectionSpan, Tile


class FileChangedError(_format.CorruptStreamError):
    """A file changed between two reads that must see the same content."""


class TileReader:
    """The header and the tile sections of one open file; thread-safe (one lock
    guards the file position, decoding runs outside it)."""

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp
        self.header, self.metadata = _codec.read_header(fp)
        self._first = fp.tell()
        self.file_size = fp.seek(0, io.SEEK_END)
        self._spans: list[SectionSpan] | None = None
        self._lock = threading.Lock()

    def covering(self, box: tuple[int, int, int, int]) -> list[Tile]:
        """The tiles that overlap ``box`` (left, upper, right, lower), in file order."""
        t, h = self.header.tile_size, self.header
        x0, y0 = max(0, box[0]), max(0, box[1])  # the part of the box on the image
        x1, y1 = min(h.width, box[2]), min(h.height, box[3])
        if x1 <= x0 or y1 <= y0:
            return []
        return [
            h.tile(r, c) for r in range(y0 // t, -(-y1 // t)) for c in range(x0 // t, -(-x1 // t))
        ]

    def payload(self, tile: Tile) -> bytes:
        """The section payload of ``tile``, checked against its CRC-32.

        Raises TruncatedFileError for a tile that a truncated file lacks."""
        with self._lock:
            spans = self._spans if self._spans is not None else self._walk()
            if tile.index >= len(spans):
                count = self.header.tile_count()
                msg = f"L3C file is truncated: tile {tile.index} of {count} is missing"
                raise _format.TruncatedFileError(msg)
            return _format.read_section_at(self.fp, spans[tile.index])

    def tiles_present(self) -> int:
        """How many tiles the file holds: all of them, unless it is truncated."""
        with self._lock:
            return len(self._spans if self._spans is not None else self._walk())

    def _walk(self) -> list[SectionSpan]:
        spans: list[SectionSpan] = []
        self.fp.seek(self._first)
        try:
            for _ in range(self.header.tile_count()):
                span = _format.skip_section(self.fp, self.file_size)
                if span.tag != _format.TILE_TAG:
                    msg = f"L3C section {span.tag!r} where a tile was expected"
                    raise _format.CorruptStreamError(msg)
                spans.append(span)
        except _format.TruncatedFileError:
            whole = False  # a cut, or a damaged length that sent the walk past the end
        else:
            whole = self.fp.tell() == self.file_size  # else appended bytes, or damage
        if not whole:
            for span in spans:  # only the CRCs can tell damage from the rest
                _format.read_section_at(self.fp, span)
        self._spans = spans
        return spans

    def read(
        self,
        box: tuple[int, int, int, int],
        device: str | None = None,
        workers: int | None = None,
        check_limit: bool = True,
        keep_truncated: bool = False,
        level: int = 0,
    ) -> np.ndarray:
        """Pixels (rows, columns, bands) of ``box``, uint8 or uint16; where it reaches past
        the image, zeros (as Pillow's crop fills). A tile that a truncated file lacks raises
        TruncatedFileError, or with ``keep_truncated`` stays zeros (Pillow's
        LOAD_TRUNCATED_IMAGES). At pyramid ``level`` k, ``box`` is in the coordinates
        of the image's pixels [::2^k, ::2^k], and only those are decoded."""
        x0, y0, x1, y1 = box
        out = np.zeros((y1 - y0, x1 - x0, self.header.planes), _codec.sample_type(self.header))
        tiles = self.covering((x0 << level, y0 << level, x1 << level, y1 << level))
        if keep_truncated:
            present = self.tiles_present()
            tiles = [tile for tile in tiles if tile.index < present]
        jobs = ((tile, self.payload(tile)) for tile in tiles)
        workers = min(workers or _codec.default_workers(device), max(1, len(tiles)))
        for tile, pixels in _codec.decode_tile_list(
            self.header, jobs, device, workers, check_limit, level=level
        ):
            tile_top, tile_left = tile.top >> level, tile.left >> level
            top, left = max(y0, tile_top), max(x0, tile_left)
            bottom = min(y1, tile_top + pixels.shape[0])
            right = min(x1, tile_left + pixels.shape[1])
            out[top - y0 : bottom - y0, left - x0 : right - x0] = pixels[
                top - tile_top : bottom - tile_top, left - tile_left : right - tile_left
            ]
        return out
