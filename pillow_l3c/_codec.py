"""Image <-> .l3c bytes: cut the image into tiles, give each to a tile coder, in parallel.

Tiles are coded independently (docs/FORMAT.md, "Tiles"): memory is bounded by the
tile size, not the image, and tiles run in parallel, one per core, each with one
torch thread. Which coder codes a tile is the encoder's choice (``choose``): a
learned model for photos, a classical coder for synthetic content, both tried where
a cheap test cannot tell; the file's method table lists the coders its tiles use and
each tile names its own, so decoding needs no option. How a coder turns pixels into
streams is its own business (``pillow_l3c.tile_coders``); this module knows only the
interface.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import numpy as np

from pillow_l3c import _depth, _format, _model, _palette, _settings
from pillow_l3c._format import Header, Tile
from pillow_l3c._threads import default_workers
from pillow_l3c._threads import in_worker as _in_worker
from pillow_l3c._threads import one_torch_thread as _one_torch_thread
from pillow_l3c._threads import ordered_map as _ordered_map
from pillow_l3c.errors import CorruptStreamError, TileTooLargeError
from pillow_l3c.tile_coders import EncodeOptions, Method, TileCoder, classical_coders
from pillow_l3c.tile_coders import learned as _learned
from pillow_l3c.tile_coders.base import CLASSICAL as CLASSICAL_KIND
from pillow_l3c.tile_coders.base import as_tile, pixel_checksums

__all__ = ["EncodeOptions", "default_workers"]

PAD_MULTIPLE = _format.TILE_MULTIPLE
# The writer's tile size per model family: why each, and what it costs, is measured
# in docs/FORMAT.md ("Tiles" and "Streams of a tile: polyphase models").
DEFAULT_TILE = {"l3c": 256, "polyphase": 512, "classical": 512}
SYNTHETIC_TILE = 2048  # an image of classical tiles only: _settings' default tile limit
CLASSICAL_ONLY = frozenset({"P", "1"})  # modes no learned model codes
LEARNED, CLASSICAL, BOTH = "learned", "classical", "both"  # a tile's choice
# An unsure tile whose fastest classical coding is over this many times its learned
# size is left to the model without trying the classical coder's slow top effort. On
# photographic tiles that effort saves far less than the 38% it saves on screen
# content (benchmarks/classical_sizes.py); a wider margin doubled the validation
# photos' encode time without changing a byte (benchmarks/tile_choice.py).
PROBE_MARGIN = 1.25


CODERS = {None: None, "auto": None, "learned": False, "classical": True}  # coder= -> classical


def options(
    model: str | None = None,
    effort: int | None = None,
    tile_size: int | None = None,
    device: str | None = None,
    workers: int | None = None,
    coder: str | None = None,
) -> EncodeOptions:
    """The encoder options of a save call (``Image.save``, ``pillow_l3c.encode``,
    imageio, ``to_l3c``), checked before any coding: ``effort`` 1 .. 9 (default 7),
    ``coder`` "auto" (default: chosen per tile), "learned" or "classical" (every tile
    by that kind of coder), ``tile_size`` and ``workers`` positive ints (a string
    would fail deep in the codec, and ``workers=0`` would quietly mean the default)."""
    for name, value in (("tile_size", tile_size), ("workers", workers)):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            msg = f"{name} must be an int, got {type(value).__name__}"
            raise TypeError(msg)
        if value < 1:
            msg = f"{name} must be at least 1, got {value}"
            raise ValueError(msg)
    if effort is None:
        effort = EncodeOptions.effort
    if not isinstance(effort, int) or isinstance(effort, bool) or not 1 <= effort <= 9:
        msg = f"effort must be an int from 1 to 9, got {effort!r}"
        raise ValueError(msg)
    if coder not in CODERS:
        msg = f'coder must be "auto", "learned" or "classical", got {coder!r}'
        raise ValueError(msg)
    return EncodeOptions(
        model=model,
        effort=effort,
        tile_size=tile_size,
        device=device,
        workers=workers,
        classical=CODERS[coder],
    )


def _check_pixels(pixels: np.ndarray, mode: str) -> np.ndarray:
    if mode not in _format.MODES:
        msg = f"cannot write mode {mode} as L3C"
        raise OSError(msg)
    pixels = as_tile(pixels, mode, _format.MODES[mode][1], deep=mode in _format.DEEP_MODES)
    if min(pixels.shape[:2]) < 1 or max(pixels.shape[:2]) > _format.MAX_DIMENSION:
        msg = f"cannot store an image of {pixels.shape[1]}x{pixels.shape[0]} pixels"
        raise ValueError(msg)
    return pixels


def _check_tile_size(tile_size: int) -> None:
    if not (_format.MIN_TILE <= tile_size <= _format.MAX_TILE and tile_size % PAD_MULTIPLE == 0):
        msg = (
            f"tile size must be a multiple of {PAD_MULTIPLE} from {_format.MIN_TILE} "
            f"to {_format.MAX_TILE}, got {tile_size}"
        )
        raise ValueError(msg)


# --- choosing a coder per tile ---------------------------------------------------------


def _torch_contexts(uses_torch: bool) -> tuple[Any, Callable[[Callable[..., Any]], Any]]:
    """The torch thread context and worker wrapper, or no-ops for a file whose tiles no
    learned model codes: such a file decodes (and encodes) without importing torch."""
    if uses_torch:
        return _one_torch_thread(), _in_worker
    return contextlib.nullcontext(), lambda fn: fn


def _classical() -> TileCoder:
    coders = list(classical_coders().values())
    return coders[0]


def bits_of(pixels: np.ndarray) -> int:
    """The header's bits per sample for an image of these pixels: 8 or 16."""
    return 16 if pixels.dtype == np.uint16 else 8


def choose(pixels: np.ndarray, mode: str, options: EncodeOptions) -> str:
    """LEARNED, CLASSICAL or BOTH (try both, keep the shorter) for one tile.

    A mode no learned model codes is classical; ``options.classical`` forces a side
    (benchmarks); otherwise the classical coder's cheap test decides where it is sure:
    for a 16-bit tile, on the high byte its coder would code. A 16-bit tile with
    predicted low bits is tried both ways where the test says classical: the test
    knows 8-bit screen content, and a scan's high byte (a CT's black surround) looks
    like it to the test while the model codes it shorter (on the DICOM samples of
    benchmarks/deep, 3 to 9% shorter, and 10 times faster than the classical top effort).
    """
    measured = False
    if pixels.dtype == np.uint16:
        plan, values = _depth.plan(pixels)
        measured = plan.method == _depth.PREDICTED
        pixels = (values >> plan.low).astype(np.uint8)
    if mode in CLASSICAL_ONLY or options.classical is True:
        return CLASSICAL
    if options.classical is False:
        return LEARNED
    from pillow_l3c.tile_coders import classical

    sure = classical.prefers_classical(pixels, mode)
    if sure and measured:
        return BOTH
    return BOTH if sure is None else CLASSICAL if sure else LEARNED


def _methods(choices: Iterable[str], learned: TileCoder | None) -> list[TileCoder]:
    """The coders a file's method table lists: the learned one first when any tile
    uses it, then the classical one when any tile uses it."""
    wanted = set(choices)
    coders: list[TileCoder] = []
    if learned is not None and wanted & {LEARNED, BOTH}:
        coders.append(learned)
    if wanted & {CLASSICAL, BOTH}:
        coders.append(_classical())
    return coders


def synthetic_tile_size(
    choices: list[str], options: EncodeOptions, asked: int | None, width: int, height: int
) -> int:
    """The tile size of a file whose tiles were chosen at ``options.tile_size``.

    The asked one, else the default, except for an image all of whose tiles go to the
    classical coder: then the largest every decoder accepts (2048), since a classical
    coder finds its runs, palettes and copies across a whole screenshot and loses 17
    to 35% of its gain in 512 tiles (benchmarks/classical_sizes.py). Where the user
    lowered ``max_tile_pixels`` below that, the largest within it: a larger tile is a
    file this process's own reader refuses (``file_head`` raises for it); never
    smaller than the default, which is what any other image of the size gets.
    """
    assert options.tile_size is not None
    if asked is not None or not choices or any(c != CLASSICAL for c in choices):
        return options.tile_size
    limit = _settings.decoding.max_tile_pixels
    tile = SYNTHETIC_TILE
    while (
        limit is not None
        and tile > options.tile_size
        and min(tile, height) * min(tile, width) > limit
    ):
        tile -= PAD_MULTIPLE
    return max(tile, options.tile_size)


def _tile_view(pixels: np.ndarray, tile: Tile) -> np.ndarray:
    return pixels[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width]


# --- encoding --------------------------------------------------------------------------


def file_head(
    width: int,
    height: int,
    mode: str,
    metadata: dict[bytes, bytes] | None,
    options: EncodeOptions,
    choices: list[str] | None = None,
    bits: int = 8,
) -> tuple[list[TileCoder], Header, bytes]:
    """The coders of the method table, the header and the bytes before the first tile
    (header, metadata and palette sections) of a file, every argument checked: what
    ``write`` and a distributed writer (``dask_array.to_l3c``) share. ``choices`` are
    the tiles' (``choose``), or None when the file's tiles are not looked at first
    (then the learned model alone, or the classical coder for a classical-only mode).
    ``bits``: 8, or 16 for uint16 samples (modes ``_format.DEEP_MODES``).
    """
    if bits not in _format.BITS_PER_SAMPLE or (bits != 8 and mode not in _format.DEEP_MODES):
        msg = f"cannot store mode {mode} with {bits} bits per sample"
        raise ValueError(msg)
    if options.tile_size is not None:
        _check_tile_size(options.tile_size)
    sections = {tag: bytes(data) for tag, data in (metadata or {}).items()}
    for tag in sections:
        if tag not in _format.LEADING_TAGS:
            msg = f"{tag!r} is not an L3C metadata section"
            raise ValueError(msg)
    if mode == "P" and _format.PALETTE_TAG not in sections:
        msg = "a P image needs its palette"
        raise ValueError(msg)
    learned = None
    if mode not in CLASSICAL_ONLY:
        learned = _learned(_model.load(options.device, options.model))
    if choices is None:
        choices = [CLASSICAL if mode in CLASSICAL_ONLY else LEARNED]
    coders = _methods(choices, learned)
    tile_size = options.tile_size or default_tile(mode, options)
    methods = tuple(c.method for c in coders)
    header = Header(width, height, mode, tile_size, len(sections), methods, bits=bits)
    limit = _tile_limit_exceeded(header)
    if limit is not None:  # what readers would refuse
        msg = (
            f"tile_size {tile_size} makes tiles of {_largest_tile(header)} pixels, over the "
            f"limit of {limit} that decoders accept (pillow_l3c.configure(max_tile_pixels=...))"
        )
        raise ValueError(msg)
    head = header.pack() + b"".join(_format.pack_section(t, d) for t, d in sections.items())
    return coders, header, head


def default_tile(mode: str, options: EncodeOptions) -> int:
    """The writer's tile size when none is asked for: the learned model family's
    (``DEFAULT_TILE``), or the classical coder's for a mode only it codes."""
    if options.tile_size is not None:
        return options.tile_size
    if mode in CLASSICAL_ONLY:
        return DEFAULT_TILE["classical"]
    return DEFAULT_TILE[_model.load(options.device, options.model).family]


@dataclass(frozen=True)
class CodedTile:
    """A tile's streams and checksums, and which kind of coder made them."""

    kind: str  # LEARNED or CLASSICAL
    streams: list[bytes]
    checksums: list[int]

    def payload(self, coders: list[TileCoder]) -> bytes:
        """The tile section's payload in a file whose method table lists ``coders``."""
        index = next(i for i, c in enumerate(coders) if _kind(c) == self.kind)
        return _format.pack_tile(index, self.checksums, self.streams)

    @property
    def size(self) -> int:
        return len(_format.pack_tile(0, self.checksums, self.streams))


def _kind(coder: TileCoder) -> str:
    return CLASSICAL if coder.method.kind == CLASSICAL_KIND else LEARNED


def code_tile(
    pixels: np.ndarray,
    mode: str,
    choice: str,
    options: EncodeOptions,
    learned: TileCoder | None = None,
) -> CodedTile:
    """One tile coded by the coder ``choice`` names; BOTH: by both, the shorter kept
    (a tie keeps the learned one, so that the choice is deterministic).

    For BOTH the classical coder first runs at its fastest effort: a photographic
    tile that it codes far longer than the model does is not worth its slow top
    effort (on the validation photos that doubled the encode time for no byte).
    """
    if pixels.dtype == np.uint16:
        return _code_deep_tile(pixels, mode, choice, options, learned)
    tried: list[CodedTile] = []
    if choice in (LEARNED, BOTH):
        coder = learned or _learned(_model.load(options.device, options.model))
        streams = coder.encode_tile(pixels, mode, options)
        tried.append(CodedTile(LEARNED, streams, coder.checksums(pixels)))
    if choice == BOTH:
        probe = _classical().encode_tile(pixels, mode, replace(options, effort=1))
        if sum(map(len, probe)) > PROBE_MARGIN * tried[0].size:
            return tried[0]
    if choice in (CLASSICAL, BOTH):
        coder = _classical()
        streams = coder.encode_tile(pixels, mode, options)
        tried.append(CodedTile(CLASSICAL, streams, coder.checksums(pixels)))
    return min(tried, key=lambda t: t.size)


def _code_deep_tile(
    pixels: np.ndarray,
    mode: str,
    choice: str,
    options: EncodeOptions,
    learned: TileCoder | None,
) -> CodedTile:
    """A 16-bit tile (``_depth``): its plan, its high byte as ``code_tile`` codes an
    8-bit tile, then its low bits; one checksum over its 16-bit samples."""
    plan, values = _depth.plan(pixels)
    high = (values >> plan.low).astype(np.uint8)
    coded = code_tile(high, mode, choice, options, learned)
    streams = [plan.pack(), *coded.streams, *_depth.encode_low(plan, values)]
    return CodedTile(coded.kind, streams, deep_checksums(pixels))


def deep_checksums(pixels: np.ndarray) -> list[int]:
    """A 16-bit tile's checksum: the CRC-32 of its samples as little-endian bytes."""
    return [zlib.crc32(np.ascontiguousarray(pixels, dtype="<u2").tobytes())]


def resolve(pixels: np.ndarray, mode: str, options: EncodeOptions) -> tuple[str, str]:
    """``choose``'s answer for one tile and what it resolves to, LEARNED or CLASSICAL:
    the same, or for a tile it is not sure of (BOTH) the coder that codes it shorter
    (a distributed writer's first pass). Both, since ``write`` decides its grid
    (``synthetic_tile_size``) on the first, before it codes the unsure tiles."""
    pixels = _check_pixels(np.ascontiguousarray(pixels), mode)
    choice = choose(pixels, mode, options)
    if choice != BOTH:
        return choice, choice
    with _one_torch_thread():
        return choice, _in_worker(lambda p: code_tile(p, mode, BOTH, options).kind)(pixels)


def encode_tile_section(
    pixels: np.ndarray,
    mode: str,
    methods: tuple[Method, ...],
    choice: str,
    options: EncodeOptions,
) -> bytes:
    """The whole section of one tile (pixels (h, w, bands) of ``mode``) coded alone by
    the coder ``choice`` (LEARNED or CLASSICAL) names: byte for byte the section
    ``write`` writes, so that tiles can be coded on many machines and joined in order."""
    pixels = _check_pixels(np.ascontiguousarray(pixels), mode)
    coders = [_coder(m, options.device) for m in methods]
    learned = next((c for c in coders if _kind(c) == LEARNED), None)

    def section(p: np.ndarray) -> bytes:
        coded = code_tile(p, mode, choice, options, learned)
        return _format.pack_section(_format.TILE_TAG, coded.payload(coders))

    with _one_torch_thread():
        return _in_worker(section)(pixels)


def _coder(method: Method, device: str | None) -> TileCoder:
    from pillow_l3c.tile_coders import coder_for

    return coder_for(method, device)


def write(
    fp: BinaryIO,
    pixels: np.ndarray,
    mode: str = "RGB",
    metadata: dict[bytes, bytes] | None = None,
    options: EncodeOptions | None = None,
) -> None:
    """Encode an array (H, W, bands) of ``mode`` to ``fp`` as a complete .l3c file: uint8,
    or uint16 (16 bits per sample) for the modes of ``_format.DEEP_MODES``.

    Every argument is checked before the first byte is written, and every tile's
    coder is chosen before the header (which lists them) is written: a tile the cheap
    test is unsure of is coded both ways first, the shorter kept for the second pass.
    Tiles are written as they finish, in order. ``metadata`` maps leading section
    tags (``_format.LEADING_TAGS``) to their payloads.
    """
    options = options or EncodeOptions()
    pixels = _check_pixels(pixels, mode)
    height, width = pixels.shape[:2]
    asked = options.tile_size
    options = replace(options, tile_size=asked or default_tile(mode, options))
    grid = Header(width, height, mode, options.tile_size, 0, ())
    choices = [choose(_tile_view(pixels, t), mode, options) for t in grid.tiles()]
    tile_size = synthetic_tile_size(choices, options, asked, width, height)
    if tile_size != options.tile_size:
        options = replace(options, tile_size=tile_size)
        grid = Header(width, height, mode, tile_size, 0, ())
        choices = [CLASSICAL] * grid.tile_count()
    learned = None
    if mode not in CLASSICAL_ONLY:
        learned = _learned(_model.load(options.device, options.model))
    workers = options.workers or default_workers(options.device)  # idle ones lend to tiles

    def coded(job: tuple[Tile, str]) -> CodedTile:
        return code_tile(_tile_view(pixels, job[0]), mode, job[1], options, learned)

    early: dict[int, CodedTile] = {}
    context, worker = _torch_contexts(learned is not None)
    with context:
        unsure = [(t, c) for t, c in zip(grid.tiles(), choices, strict=True) if c == BOTH]
        results = _ordered_map(worker(coded), unsure, workers)
        for (tile, _), result in zip(unsure, results, strict=True):
            early[tile.index] = result
            choices[tile.index] = result.kind
    bits = bits_of(pixels)
    coders, header, head = file_head(width, height, mode, metadata, options, choices, bits)

    def section(job: tuple[Tile, str]) -> bytes:
        result = early.pop(job[0].index, None) or coded(job)
        return _format.pack_section(_format.TILE_TAG, result.payload(coders))

    fp.write(head)
    context, worker = _torch_contexts(learned is not None)
    with context:
        jobs = zip(header.tiles(), choices, strict=True)
        for data in _ordered_map(worker(section), jobs, workers):
            fp.write(data)


def encode(
    pixels: np.ndarray,
    mode: str = "RGB",
    metadata: dict[bytes, bytes] | None = None,
    options: EncodeOptions | None = None,
) -> bytes:
    """The bytes of a complete .l3c file; see ``write``."""
    out = io.BytesIO()
    write(out, pixels, mode, metadata, options)
    return out.getvalue()


# --- decoding --------------------------------------------------------------------------


def read_header(fp: BinaryIO) -> tuple[Header, dict[bytes, bytes]]:
    """Header and leading sections (metadata, palette) of a file, leaving ``fp`` at the
    first tile."""
    header = _format.read_header(fp)
    sections = _format.read_metadata(fp, header.metadata_count)
    _check_image_sections(header, sections)
    return header, sections


def _check_image_sections(header: Header, sections: dict[bytes, bytes]) -> None:
    """A P image has its palette; no other mode has one (or a palette transparency).

    The palette and transparency are parsed here, once for every reader: a decode
    that does not use them (``pillow_l3c.decode``, ``read_metadata``) must refuse a
    damaged one as ``Image.open`` does, not return the indices of a broken file."""
    has_palette = _format.PALETTE_TAG in sections
    if header.mode == "P" and not has_palette:
        msg = "L3C file of mode P has no palette"
        raise CorruptStreamError(msg)
    if header.mode != "P" and (has_palette or _format.TRANSPARENCY_TAG in sections):
        msg = f"L3C file of mode {header.mode} has a palette section"
        raise CorruptStreamError(msg)
    if header.mode in CLASSICAL_ONLY and any(m.kind != CLASSICAL_KIND for m in header.methods):
        msg = f"L3C file of mode {header.mode} lists a learned model, which codes no such tile"
        raise CorruptStreamError(msg)
    if has_palette:
        _palette.palette(sections[_format.PALETTE_TAG])
    if _format.TRANSPARENCY_TAG in sections:
        _palette.transparency(sections[_format.TRANSPARENCY_TAG])


def decode(
    data: bytes | BinaryIO, device: str | None = None, workers: int | None = None
) -> tuple[Header, np.ndarray]:
    """Header and pixels (H, W, bands) of a whole file: uint8, or uint16 for a file of
    16 bits per sample."""
    fp = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    header, _ = read_header(fp)
    check_size(header)
    return header, decode_tiles(header, fp, device, workers)


def check_size(header: Header) -> None:
    """Pillow's decompression-bomb policy, for callers that bypass Image.open."""
    from PIL import Image

    Image._decompression_bomb_check((header.width, header.height))


def _check_length(header: Header, fp: BinaryIO, coders: TileCoders) -> None:
    """Refuse, before the pixels are allocated, a file too short for its tiles (a few
    bytes that claim gigapixels)."""
    if not fp.seekable():
        return
    here = fp.tell()
    present = fp.seek(0, io.SEEK_END) - here
    fp.seek(here)
    streams = 0
    if header.version == 2:
        corner = header.tile(header.rows - 1, header.columns - 1)  # the fewest streams
        streams = coders.get(0).stream_count(header.mode, corner.height, corner.width)
    need = header.tile_count() * _format.min_tile_bytes(header.version, streams)
    if present < need:
        msg = (
            f"L3C file is truncated: its {header.tile_count()} tiles need at least "
            f"{need} bytes, {present} present"
        )
        raise _format.TruncatedFileError(msg)


def _largest_tile(header: Header) -> int:
    """Pixels of the file's largest tile (the first; tiles are cut to the image)."""
    first = header.tile(0, 0)
    return first.height * first.width


def _tile_limit_exceeded(header: Header) -> int | None:
    """The configured limit on tile pixels when the file's tiles are over it, else None."""
    limit = _settings.decoding.max_tile_pixels
    return limit if limit is not None and _largest_tile(header) > limit else None


def check_tile_limit(header: Header) -> None:
    """Refuse a file whose largest tile is over the configured limit, before any of it
    is decoded (``pillow_l3c.configure(max_tile_pixels=...)``)."""
    limit = _tile_limit_exceeded(header)
    if limit is not None:
        first = header.tile(0, 0)
        msg = (
            f"L3C tiles of {first.width}x{first.height} pixels are over the limit of "
            f"{limit} pixels per tile (decoding one takes memory in proportion to its "
            "pixels); for a trusted file, raise it with "
            "pillow_l3c.configure(max_tile_pixels=...)"
        )
        raise TileTooLargeError(msg)


class TileCoders:
    """The coders of a file's method table, each made (a model loaded) when a tile
    first names it: a file of classical tiles never loads torch."""

    def __init__(self, header: Header, device: str | None) -> None:
        self.header, self.device = header, device
        self._coders: dict[int, TileCoder] = {}

    def get(self, index: int) -> TileCoder:
        if index not in self._coders:
            self._coders[index] = _coder(tile_method(self.header, index), self.device)
        return self._coders[index]


def sample_type(header: Header) -> type[np.unsignedinteger[Any]]:
    """The numpy type of a file's samples."""
    return np.uint16 if header.bits == 16 else np.uint8


def level_size(size: int, level: int) -> int:
    """How many of ``size`` pixels a row or column keeps at pyramid level ``level``."""
    return -(-size // (1 << level))


def tile_method(header: Header, index: int) -> Method:
    """The method-table entry a tile's method ``index`` names, if the table has it:
    what a reader can check of a tile without its coder (``Image.verify``)."""
    if index >= len(header.methods):
        count = len(header.methods)
        msg = f"L3C tile names coding method {index}; the file lists {count}"
        raise CorruptStreamError(msg)
    # read_header has refused a P or 1 file that lists a learned model at all
    return header.methods[index]


def decode_tiles(
    header: Header,
    fp: BinaryIO,
    device: str | None = None,
    workers: int | None = None,
    keep_truncated: bool = False,
    level: int = 0,
) -> np.ndarray:
    """Pixels (H, W, bands) uint8 of the tiles that follow the leading sections, or at
    pyramid ``level`` k the image's pixels [::2^k, ::2^k] (``decode_tile_payload``).

    A file that ends early raises TruncatedFileError (before the pixels are allocated
    when ``fp`` can tell its length), unless ``keep_truncated``: then the tiles before
    the cut are decoded and the rest stays black (Pillow's LOAD_TRUNCATED_IMAGES).
    Any other damage raises CorruptStreamError; pixels are never returned unchecked.
    """
    check_tile_limit(header)
    coders = TileCoders(header, device)
    if not keep_truncated:
        _check_length(header, fp, coders)
    height, width = level_size(header.height, level), level_size(header.width, level)
    out = np.zeros((height, width, header.planes), dtype=sample_type(header))

    def payloads() -> Iterator[tuple[Tile, bytes]]:
        for tile in header.tiles():
            try:
                payload = _format.read_tile(fp)
            except _format.TruncatedFileError:
                if not keep_truncated:
                    raise
                return
            yield tile, payload

    workers = workers or default_workers(device)  # idle ones lend to tiles
    jobs = payloads()
    for tile, pixels in decode_tile_list(header, jobs, device, workers, False, coders, level):
        top, left = tile.top >> level, tile.left >> level  # tiles start at multiples of 2^k
        out[top : top + pixels.shape[0], left : left + pixels.shape[1]] = pixels
    return out


def decode_tile_list(
    header: Header,
    jobs: Iterable[tuple[Tile, bytes]],
    device: str | None = None,
    workers: int | None = None,
    check_limit: bool = True,
    coders: TileCoders | None = None,
    level: int = 0,
) -> Iterator[tuple[Tile, np.ndarray]]:
    """(tile, pixels) for each (tile, payload) of ``jobs``, in order, decoded on
    ``workers`` threads, at most twice as many in flight: the whole image
    (``decode_tiles``) or a few tiles (``_region``). ``check_limit=False``: the caller
    checked the tile limit when it opened the file (a lazy array checks in the process
    that opens it, by that process's settings, not in each worker)."""
    if check_limit:
        check_tile_limit(header)
    coders = coders or TileCoders(header, device)

    def decode_tile(job: tuple[Tile, bytes]) -> tuple[Tile, np.ndarray]:
        return job[0], decode_tile_payload(header, coders, *job, level=level)

    context, worker = _torch_contexts(any(m.kind != CLASSICAL_KIND for m in header.methods))
    with context:
        yield from _ordered_map(worker(decode_tile), jobs, workers or default_workers(device))


def decode_tile_payload(
    header: Header, coders: TileCoders, tile: Tile, payload: bytes, level: int = 0
) -> np.ndarray:
    """The pixels (h, w, bands) of one tile section's payload, checked against the
    checksums the encoder stored: a damaged tile raises, it never yields wrong pixels.

    At ``level`` k > 0, the tile's pixels [::2^k, ::2^k]: a coder that holds its tile
    as a pyramid (``decode_levels``) decodes only the scales down to k and checks them
    by that scale's checksum (format 3 stores one per scale); any other tile is decoded
    whole, checked and decimated, one tile at a time."""
    if header.version == 2:
        coder = coders.get(0)
        streams = coder.stream_count(header.mode, tile.height, tile.width)
        content = _format.unpack_tile(payload, 2, streams)
    else:
        content = _format.unpack_tile(payload)
        coder = coders.get(content.method)
        if header.bits == 16:
            pixels = _decode_deep_tile(header, coder, tile, content)
            step = 1 << level
            return pixels[::step, ::step] if level else pixels
        want = coder.stream_count(header.mode, tile.height, tile.width)
        _check_stream_count(tile, content, want)
    decode_levels = getattr(coder, "decode_levels", None)
    if level and header.version >= 3 and decode_levels is not None:
        pixels, got = decode_levels(content.streams, header.mode, tile.height, tile.width, level)
        scales = len(content.checksums) - 1  # one checksum per scale, coarsest first
        if (
            got > scales
            or zlib.crc32(np.ascontiguousarray(pixels).tobytes())
            != (content.checksums[scales - got])
        ):
            msg = f"L3C pixel checksum mismatch in tile {tile.index}: the file is damaged"
            raise CorruptStreamError(msg)
        step = 1 << (level - got)  # a tile with fewer scales than asked: decimate the rest
        return pixels[::step, ::step]
    pixels = coder.decode_tile(content.streams, header.mode, tile.height, tile.width)
    expected = pixel_checksums(pixels) if header.version == 2 else coder.checksums(pixels)
    if tuple(expected) != content.checksums:
        msg = f"L3C pixel checksum mismatch in tile {tile.index}: the file is damaged"
        raise CorruptStreamError(msg)
    step = 1 << level
    return pixels[::step, ::step] if level else pixels


def _check_stream_count(tile: Tile, content: _format.TilePayload, want: int) -> None:
    if len(content.streams) != want:
        msg = f"L3C tile {tile.index} has {len(content.streams)} streams, expected {want}"
        raise CorruptStreamError(msg)


def _decode_deep_tile(
    header: Header, coder: TileCoder, tile: Tile, content: _format.TilePayload
) -> np.ndarray:
    """The checked pixels (h, w, bands) uint16 of a 16-bit tile (``_code_deep_tile``)."""
    if not content.streams:
        _check_stream_count(tile, content, 1)
    plan = _depth.Plan.unpack(content.streams[0], header.planes)
    high_streams = coder.stream_count(header.mode, tile.height, tile.width)
    _check_stream_count(tile, content, 1 + high_streams + plan.low_streams())
    cut = 1 + high_streams
    high = coder.decode_tile(content.streams[1:cut], header.mode, tile.height, tile.width)
    pixels = _depth.join(plan, high, content.streams[cut:])
    if tuple(deep_checksums(pixels)) != content.checksums:
        msg = f"L3C pixel checksum mismatch in tile {tile.index}: the file is damaged"
        raise CorruptStreamError(msg)
    return pixels
