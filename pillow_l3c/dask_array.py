"""One .l3c file as a lazy ``dask.array``, chunked by its tiles.

    import pillow_l3c.dask_array
    arr = pillow_l3c.dask_array.open_array("s3://bucket/scan.l3c")
    arr[10000:10512, 20000:20512].compute()    # decodes the 1 to 4 tiles under it

Each chunk is one tile, decoded by one task with one torch thread, so a Dask
scheduler's threads (or a cluster's workers) are the parallelism. A task opens the
file through fsspec, finds its tile by walking the section heads (``_region``), and
reads only that tile's section; the walk is kept per process and file, so the tiles
of one file are found once. Needs the ``dask`` extra: ``pip install pillow-l3c[dask]``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from pillow_l3c import _codec, _region
from pillow_l3c._optional import require

# This process's open readers, most recent last; a few files at a time stay open.
_readers: OrderedDict[tuple[str, str, str], _region.TileReader] = OrderedDict()
_readers_lock = threading.Lock()
OPEN_FILES = 16


def _version(urlpath: str, storage_options: dict[str, Any]) -> str:
    """What identifies the file's present content (fsspec's ``ukey``: size, time, ...)."""
    url_to_fs = require("fsspec.core").url_to_fs
    fs, path = url_to_fs(urlpath, **storage_options)
    return str(fs.ukey(path))


def _reader(urlpath: str, storage_options: dict[str, Any], version: str) -> _region.TileReader:
    """This process's reader of ``urlpath`` as it was at ``version``.

    Its file stays open and its walk of the section heads is kept for later tiles,
    for the last ``OPEN_FILES`` files read, so an array keeps reading the file it
    opened even after an atomic replace. An older reader is dropped, not closed: a
    task may still be reading it, and the file closes with its last reference.
    """
    fsspec = require("fsspec")
    key = (urlpath, repr(sorted(storage_options.items())), version)
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            fp = fsspec.open(urlpath, "rb", **storage_options).open()
            if _version(urlpath, storage_options) != version:
                fp.close()
                msg = f"{urlpath} changed after open_array opened it; open it again"
                raise _region.FileChangedError(msg)
            reader = _readers[key] = _region.TileReader(fp)
            while len(_readers) > OPEN_FILES:
                _readers.popitem(last=False)
        _readers.move_to_end(key)
        return reader


class _TileSource:
    """What ``dask.array.from_array`` slices: shape, dtype and ``__getitem__`` by tile.

    It holds only the URL and options, so it pickles to any worker.
    """

    def __init__(self, urlpath: str, storage_options: dict[str, Any], device: str | None) -> None:
        self.urlpath, self.storage_options, self.device = urlpath, storage_options, device
        self.version = _version(urlpath, storage_options)
        self.header = header = self._reader().header
        self.shape: tuple[int, ...] = (header.height, header.width) + (
            (header.planes,) if header.planes > 1 else ()
        )
        self.dtype = np.dtype(np.uint8)
        self.ndim = len(self.shape)

    def _reader(self) -> _region.TileReader:
        return _reader(self.urlpath, self.storage_options, self.version)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        rows, cols = key[0], key[1]
        y0, y1, _ = rows.indices(self.shape[0])
        x0, x1, _ = cols.indices(self.shape[1])
        pixels = self._reader().read((x0, y0, x1, y1), self.device, workers=1, check_limit=False)
        if self.ndim == 2:
            return pixels[:, :, 0]
        return pixels[:, :, key[2]] if len(key) > 2 else pixels


def open_array(
    urlpath: str,
    device: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """The pixels of the .l3c file at ``urlpath`` (a path or fsspec URL), lazily.

    A ``dask.array.Array`` of uint8, (height, width) for grey, else (height, width,
    bands), one chunk per tile. Nothing is decoded until a chunk is computed.
    Pillow's decompression-bomb limit does not apply: memory is bounded by the chunks
    a computation holds, not by the image.
    """
    da = require("dask.array", extra="dask")
    source = _TileSource(urlpath, storage_options or {}, device)
    header = source.header
    _codec.check_tile_limit(header)  # this process's limit; the workers trust it
    t = header.tile_size
    chunks: list[tuple[int, ...]] = [
        tuple(min(t, header.height - y) for y in range(0, header.height, t)),
        tuple(min(t, header.width - x) for x in range(0, header.width, t)),
    ]
    if source.ndim == 3:
        chunks.append((header.planes,))
    options = repr(sorted(source.storage_options.items()))
    name = "l3c-" + da.core.tokenize(urlpath, options, source.version)
    return da.from_array(
        source,
        chunks=tuple(chunks),
        name=name,
        asarray=False,
        fancy=False,
        lock=False,
        meta=np.empty((0,) * source.ndim, dtype=np.uint8),
    )
