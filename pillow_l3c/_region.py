"""Random access to the tiles of a .l3c file: decode a region, not the image.

Tiles are coded independently (docs/FORMAT.md, "Tiles"), so a reader needs only the
tiles that cover a region. Their sections are found by walking the section heads (8
bytes each) from the first tile, never reading the coded data of other tiles; the
walk is remembered, so reading many regions of one file walks it once. Used by
``L3cImageFile.crop`` before the image is loaded and by ``pillow_l3c.dask_array``.
"""

from __future__ import annotations

import io
import threading
from typing import BinaryIO

import numpy as np

from pillow_l3c import _codec, _format
from pillow_l3c._format import SectionSpan, Tile


class TileReader:
    """The header and the tile sections of one open file; thread-safe (one lock
    guards the file position, decoding runs outside it)."""

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp
        self.header, self.metadata = _codec.read_header(fp)
        self._first = fp.tell()
        self.file_size = fp.seek(0, io.SEEK_END)
        self._spans: list[SectionSpan] = []
        self._lock = threading.Lock()
        t = self.header.tile_size
        self.rows, self.cols = -(-self.header.height // t), -(-self.header.width // t)

    def tile(self, row: int, col: int) -> Tile:
        t, h = self.header.tile_size, self.header
        top, left = row * t, col * t
        return Tile(
            row * self.cols + col, top, left, min(t, h.height - top), min(t, h.width - left)
        )

    def covering(self, box: tuple[int, int, int, int]) -> list[Tile]:
        """The tiles that overlap ``box`` (left, upper, right, lower), in file order."""
        t, h = self.header.tile_size, self.header
        x0, y0 = max(0, box[0]), max(0, box[1])  # the part of the box on the image
        x1, y1 = min(h.width, box[2]), min(h.height, box[3])
        if x1 <= x0 or y1 <= y0:
            return []
        return [
            self.tile(r, c)
            for r in range(y0 // t, -(-y1 // t))
            for c in range(x0 // t, -(-x1 // t))
        ]

    def payload(self, tile: Tile) -> bytes:
        with self._lock:
            while len(self._spans) <= tile.index:
                self.fp.seek(self._spans[-1].end if self._spans else self._first)
                span = _format.skip_section(self.fp, self.file_size)
                if span.tag != _format.TILE_TAG:
                    msg = f"L3C section {span.tag!r} where a tile was expected"
                    raise _format.CorruptStreamError(msg)
                self._spans.append(span)
            return _format.read_section_at(self.fp, self._spans[tile.index])

    def read(
        self,
        box: tuple[int, int, int, int],
        device: str | None = None,
        workers: int | None = None,
        check_limit: bool = True,
    ) -> np.ndarray:
        """Pixels (rows, columns, bands) uint8 of ``box``; where it reaches past the
        image, zeros (as Pillow's crop fills)."""
        x0, y0, x1, y1 = box
        out = np.zeros((y1 - y0, x1 - x0, self.header.planes), dtype=np.uint8)
        tiles = self.covering(box)
        jobs = ((tile, self.payload(tile)) for tile in tiles)
        workers = min(workers or _codec.default_workers(device), max(1, len(tiles)))
        for tile, pixels in _codec.decode_tile_list(
            self.header, jobs, device, workers, check_limit
        ):
            top, left = max(y0, tile.top), max(x0, tile.left)
            bottom = min(y1, tile.top + tile.height)
            right = min(x1, tile.left + tile.width)
            out[top - y0 : bottom - y0, left - x0 : right - x0] = pixels[
                top - tile.top : bottom - tile.top, left - tile.left : right - tile.left
            ]
        return out
