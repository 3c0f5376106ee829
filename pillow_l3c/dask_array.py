"""One .l3c file as a lazy ``dask.array``, chunked by its tiles, and back.

    import pillow_l3c.dask_array
    arr = pillow_l3c.dask_array.open_array("s3://bucket/scan.l3c")
    arr[10000:10512, 20000:20512].compute()    # decodes the 1 to 4 tiles under it

Each chunk is one tile, decoded by one task with one torch thread, so a Dask
scheduler's threads (or a cluster's workers) are the parallelism. A task opens the
file through fsspec, finds its tile by walking the section heads (``_region``), and
reads only that tile's section; the walk is kept per process and file, so the tiles
of one file are found once. ``to_l3c`` writes an array as a file, one task per tile.
Needs the ``dask`` extra: ``pip install pillow-l3c[dask]``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from pillow_l3c import _codec, _format, _region
from pillow_l3c._metadata import Metadata
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
    url_to_fs = require("fsspec.core").url_to_fs
    key = (urlpath, repr(sorted(storage_options.items())), version)
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            # No read-ahead: a remote file's block cache would fetch megabytes around
            # every 8-byte section head of the walk.
            fs, path = url_to_fs(urlpath, **storage_options)
            fp = fs.open(path, "rb", cache_type="none")
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

    def __init__(
        self, urlpath: str, storage_options: dict[str, Any], device: str | None, level: int = 0
    ) -> None:
        self.urlpath, self.storage_options, self.device = urlpath, storage_options, device
        self.level = level
        self.version = _version(urlpath, storage_options)
        self.header = header = self._reader().header
        height, width = (
            _codec.level_size(header.height, level),
            _codec.level_size(header.width, level),
        )
        self.shape: tuple[int, ...] = (height, width) + (
            (header.planes,) if header.planes > 1 else ()
        )
        self.dtype = np.dtype(_codec.sample_type(header))
        self.ndim = len(self.shape)

    def _reader(self) -> _region.TileReader:
        return _reader(self.urlpath, self.storage_options, self.version)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        rows, cols = key[0], key[1]
        y0, y1, _ = rows.indices(self.shape[0])
        x0, x1, _ = cols.indices(self.shape[1])
        pixels = self._reader().read(
            (x0, y0, x1, y1), self.device, workers=1, check_limit=False, level=self.level
        )
        if self.ndim == 2:
            return pixels[:, :, 0]
        return pixels[:, :, key[2]] if len(key) > 2 else pixels


def open_array(
    urlpath: str,
    device: str | None = None,
    storage_options: dict[str, Any] | None = None,
    level: int = 0,
) -> Any:
    """The pixels of the .l3c file at ``urlpath`` (a path or fsspec URL), lazily.

    A ``dask.array.Array`` of uint8, (height, width) for grey, else (height, width,
    bands), one chunk per tile. Nothing is decoded until a chunk is computed.
    Pillow's decompression-bomb limit does not apply: memory is bounded by the chunks
    a computation holds, not by the image. ``level`` k opens pyramid level k, the
    pixels [::2^k, ::2^k] (decimated, not filtered), as viewers of multiscale
    pyramids (napari) take them: ``[open_array(url, level=k) for k in range(4)]``;
    polyphase tiles decode only their coarse scales for it.
    """
    da = require("dask.array", extra="dask")
    if not isinstance(level, int) or not 0 <= level <= MAX_LEVEL:
        msg = f"level must be an int from 0 to {MAX_LEVEL}, got {level!r}"
        raise ValueError(msg)
    source = _TileSource(urlpath, storage_options or {}, device, level)
    header = source.header
    _codec.check_tile_limit(header)  # this process's limit; the workers trust it
    chunks: list[tuple[int, ...]] = [
        tuple(_codec.level_size(header.tile(r, 0).height, level) for r in range(header.rows)),
        tuple(_codec.level_size(header.tile(0, c).width, level) for c in range(header.columns)),
    ]
    if source.ndim == 3:
        chunks.append((header.planes,))
    options = repr(sorted(source.storage_options.items()))
    name = "l3c-" + da.core.tokenize(urlpath, options, source.version, level)
    return da.from_array(
        source,
        chunks=tuple(chunks),
        name=name,
        asarray=False,
        fancy=False,
        lock=False,
        meta=np.empty((0,) * source.ndim, dtype=source.dtype),
    )


MODES_BY_BANDS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
MAX_LEVEL = 9


def _choices(arr: Any, mode: str, options: _codec.EncodeOptions) -> list[tuple[str, str]]:
    """Each tile's (first choice, coder) (``_codec.resolve``), a task a tile, in order."""
    dask = require("dask", extra="dask")
    t = options.tile_size
    blocks = arr.rechunk((t, t, -1)).to_delayed()[:, :, 0].ravel()
    resolve = dask.delayed(_codec.resolve, pure=True)
    return list(dask.compute(*[resolve(b, mode, options) for b in blocks]))


def to_l3c(
    arr: Any,
    urlpath: str,
    mode: str | None = None,
    model: str | None = None,
    device: str | None = None,
    tile_size: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
    effort: int | None = None,
    coder: str | None = None,
) -> None:
    """Write a uint8 or uint16 array (a ``dask.array``, or anything it takes) as a .l3c file.

    One task per tile, on whatever scheduler is active (a cluster's client, else
    threads), each coding its tile alone as ``Image.save`` would: the file is byte for
    byte the one a single process writes. The sections are joined in order one row of
    tiles at a time, so memory holds one row's coded bytes, never the image. The file
    appears under ``urlpath`` only when complete. ``mode`` defaults by the bands: L,
    LA, RGB, RGBA. ``metadata`` takes the keys of Pillow's ``info`` and save
    parameters (icc_profile, exif, xmp, dpi, comment, text), stored as
    ``Image.save`` stores them; ``effort`` and ``coder`` are ``Image.save``'s. A bool
    array is a bilevel (mode 1) image.
    """
    da = require("dask.array", extra="dask")
    dask = require("dask", extra="dask")
    fsspec = require("fsspec")
    arr = da.asarray(arr)
    if arr.dtype == np.bool_ and mode in (None, "1"):  # what np.asarray of a 1 image gives
        arr, mode = arr.astype(np.uint8), "1"
    if arr.ndim == 2:
        arr = arr[:, :, None]
    deep = arr.dtype.kind == "u" and arr.dtype.itemsize == 2 and mode != "1"
    if deep:
        arr = arr.astype(np.uint16)  # by value, whatever the byte order
    if (
        arr.dtype not in (np.uint8, np.uint16)
        or arr.ndim != 3
        or arr.shape[2] not in MODES_BY_BANDS
    ):
        msg = (
            "to_l3c needs a uint8 or uint16 array (H, W) or (H, W, 1..4), "
            f"got {arr.dtype} {arr.shape}"
        )
        raise ValueError(msg)
    mode = mode or MODES_BY_BANDS[arr.shape[2]]
    # Checked before any task runs: the tiles' first pass computes the whole source.
    if mode not in _format.MODES or mode == "P":
        msg = (
            f"to_l3c cannot write mode {mode} (it writes L, LA, RGB, RGBA and 1; a P "
            "image needs its palette: save it with Image.save)"
        )
        raise ValueError(msg)
    if _format.MODES[mode][1] != arr.shape[2]:
        msg = f"mode {mode} needs {_format.MODES[mode][1]} bands, the array has {arr.shape[2]}"
        raise ValueError(msg)
    height, width = arr.shape[:2]
    sections = Metadata.from_info({}, metadata).to_sections()
    options = _codec.options(model, effort, tile_size, device, coder=coder)
    options = replace(options, tile_size=_codec.default_tile(mode, options))
    # Every tile's coder is chosen first (as Image.save chooses them), since the header
    # lists the coders the tiles use: the source is computed twice, never held whole.
    first, choices = zip(*_choices(arr, mode, options), strict=True)
    choices = list(choices)
    # The grid from the first choices, as write decides it before coding unsure tiles.
    t = _codec.synthetic_tile_size(list(first), options, tile_size, width, height)
    blocks = arr.rechunk((t, t, -1)).to_delayed()
    if t != options.tile_size:  # all classical: one grid of larger tiles, as write does
        options = replace(options, tile_size=t)
        choices = [_codec.CLASSICAL] * blocks[:, :, 0].size
    bits = 16 if deep else 8
    _, header, head = _codec.file_head(width, height, mode, sections, options, choices, bits)
    encode = dask.delayed(_codec.encode_tile_section, pure=True)
    fs, path = require("fsspec.core").url_to_fs(urlpath, **(storage_options or {}))
    tmp = f"{path}.partial"
    try:
        with fsspec.open(fs.unstrip_protocol(tmp), "wb", **(storage_options or {})) as f:
            f.write(head)
            columns = header.columns
            for r, row in enumerate(blocks[:, :, 0]):
                tasks = [
                    encode(block, mode, header.methods, choices[r * columns + c], options)
                    for c, block in enumerate(row)
                ]
                f.write(b"".join(dask.compute(*tasks)))
        fs.mv(tmp, path)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)
