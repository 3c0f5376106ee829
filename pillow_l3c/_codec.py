"""Image <-> .l3c bytes: split into tiles, run the model, quantize mixtures, call the coder.

Tiles are coded independently (docs/FORMAT.md, "Tiles"): memory is bounded by the
tile size, not the image, and tiles run in parallel, one per core, each with one
torch thread. The network and the mixture arithmetic run on the model's device; only
int32 mixture parameters and symbols cross to the C++ coder, which computes each CDF
on demand, so no CDF table is ever built.

RGB is one layer; a grey band is a layer with one plane; alpha is a second layer of
its own. A polyphase model codes a layer in ``_polyphase``; an L3C model here, in this
order (the decoder's; rANS encodes each stream in reverse): z(S) under a uniform
prior, then z(S-1) .. z(1) each from D(s+1), then the coded planes from D(1), each
coupled to the planes before it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from pillow_l3c import _format, _model, _polyphase, _settings
from pillow_l3c._constants import (
    INV_SCALE_FRACTION_BITS,
    MAX_ABS_MEAN,
    MAX_INV_SCALE,
    MEAN_FRACTION_BITS,
    PRECISION,
    SAMPLE_LEVELS,
    WEIGHT_BITS,
)
from pillow_l3c._format import Header, Tile
from pillow_l3c._threads import default_workers
from pillow_l3c._threads import in_worker as _in_worker
from pillow_l3c._threads import one_torch_thread as _one_torch_thread
from pillow_l3c._threads import ordered_map as _ordered_map
from pillow_l3c.errors import CorruptStreamError, TileTooLargeError

if TYPE_CHECKING:
    import torch

PAD_MULTIPLE = _format.TILE_MULTIPLE
# The writer's tile size per model family: why each, and what it costs, is measured
# in docs/FORMAT.md ("Tiles" and "Streams of a tile: polyphase models").
DEFAULT_TILE = {"l3c": 256, "polyphase": 512}


@dataclass(frozen=True)
class Layer:
    """One pass of the model over a three-channel view of some of the image's bands.

    ``view`` picks the band shown to the network as R, G and B; ``coded`` are the bands
    coded as its colour planes, in order (R, then G coupled to R, then B). A grey band
    is seen as (Y, Y, Y) and only its R plane is coded: G and B would carry nothing.
    """

    view: tuple[int, int, int]
    coded: tuple[int, ...]


COLOUR = Layer((0, 1, 2), (0, 1, 2))
GREY = Layer((0, 0, 0), (0,))
LAYERS: dict[str, tuple[Layer, ...]] = {
    "RGB": (COLOUR,),
    "RGBA": (COLOUR, Layer((3, 3, 3), (3,))),
    "L": (GREY,),
    "LA": (GREY, Layer((1, 1, 1), (1,))),
}


def layer_streams(model: _model.LoadedModel, layer: Layer, height: int, width: int) -> int:
    """Streams of one layer of a height x width tile."""
    if model.family == "polyphase":
        return _polyphase.stream_count(len(layer.coded), height, width)
    return model.scales + len(layer.coded)


def tile_streams(model: _model.LoadedModel, mode: str, height: int, width: int) -> int:
    """Streams in a height x width tile (a polyphase model's depend on the tile's size)."""
    return sum(layer_streams(model, layer, height, width) for layer in LAYERS[mode])


def quantize_mixture(
    logits: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float mixture (K, n) in bins -> the coder's integer parameters (n, K).

    This is the single place where floats become the integers that decide every CDF;
    encoder and decoder must call it on identical tensors.
    """
    import torch

    # Weights sum to exactly 2^12: floor, then the first takes the remainder (< K).
    weights = torch.floor(torch.softmax(logits.float(), dim=0) * (1 << WEIGHT_BITS))
    weights[0] += (1 << WEIGHT_BITS) - weights.sum(dim=0)
    means = torch.round(mean.float() * (1 << MEAN_FRACTION_BITS)).clamp(-MAX_ABS_MEAN, MAX_ABS_MEAN)
    inv = torch.round((1 << INV_SCALE_FRACTION_BITS) / scale.float()).clamp(1, MAX_INV_SCALE)
    return tuple(t.t().contiguous().to(torch.int32).cpu().numpy() for t in (weights, means, inv))  # type: ignore[return-value]


def _integers(
    model: _model.LoadedModel, mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coder's (n, K) int32 weights, means and inverse scales of a (K, n) mixture:
    an exact model computes them itself, in integers; a float model's are quantized here."""
    if model.exact:
        return tuple(t.t().contiguous().cpu().numpy() for t in mixture)  # type: ignore[return-value]
    return quantize_mixture(*mixture)


# --- encoding ------------------------------------------------------------------------


def uniform_cdf(alphabet: int) -> np.ndarray:
    return ((np.arange(alphabet + 1, dtype=np.int64) << PRECISION) // alphabet).astype(np.int32)[
        None
    ]


def pad_image(pixels: np.ndarray) -> np.ndarray:
    """Edge-replicate to multiples of 8. The padding is never coded: the decoder needs
    only latents to run every predictor, and colour coupling is per pixel."""
    h, w = pixels.shape[:2]
    ph, pw = -h % PAD_MULTIPLE, -w % PAD_MULTIPLE
    return np.pad(pixels, ((0, ph), (0, pw), (0, 0)), mode="edge")


def _check_pixels(pixels: np.ndarray, mode: str) -> np.ndarray:
    if mode not in _format.MODES:
        msg = f"cannot write mode {mode} as L3C"
        raise OSError(msg)
    bands = _format.MODES[mode][1]
    if pixels.ndim == 2 and bands == 1:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != bands:
        got = f"{pixels.dtype} {pixels.shape}"
        msg = f"{mode} needs a uint8 array of shape (H, W, {bands}), got {got}"
        raise ValueError(msg)
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


def file_head(
    width: int,
    height: int,
    mode: str,
    device: str | None = None,
    metadata: dict[bytes, bytes] | None = None,
    tile_size: int | None = None,
    model: str | None = None,
) -> tuple[_model.LoadedModel, Header, bytes]:
    """The model, the header and the bytes before the first tile (header and metadata
    sections) of a file, every argument checked: what ``write`` and a distributed
    writer (``dask_array.to_l3c``) share."""
    if tile_size is not None:
        _check_tile_size(tile_size)
    sections = {tag: bytes(data) for tag, data in (metadata or {}).items()}
    for tag in sections:
        if tag not in _format.METADATA_TAGS:
            msg = f"{tag!r} is not an L3C metadata section"
            raise ValueError(msg)
    loaded = _model.load(device, model)
    tile_size = tile_size or DEFAULT_TILE[loaded.family]
    header = Header(width, height, mode, loaded.model_id, tile_size, len(sections))
    limit = _tile_limit_exceeded(header)
    if limit is not None:  # what readers would refuse
        msg = (
            f"tile_size {tile_size} makes tiles of {_largest_tile(header)} pixels, over the "
            f"limit of {limit} that decoders accept (pillow_l3c.configure(max_tile_pixels=...))"
        )
        raise ValueError(msg)
    head = header.pack() + b"".join(_format.pack_section(t, d) for t, d in sections.items())
    return loaded, header, head


def encode_tile_section(
    pixels: np.ndarray, mode: str, model_id: bytes, device: str | None = None
) -> bytes:
    """The whole section of one tile (pixels (h, w, bands) of ``mode``), coded alone by
    the model with ``model_id``: byte for byte the section ``write`` would write, so
    that tiles can be coded on many machines and joined in order."""
    loaded = _model.load(device, wanted=model_id)
    pixels = _check_pixels(np.ascontiguousarray(pixels), mode)

    def section(p: np.ndarray) -> bytes:
        return _format.pack_section(_format.TILE_TAG, _encode_tile(loaded, p, mode))

    with _one_torch_thread():
        return _in_worker(section)(pixels)


def write(
    fp: BinaryIO,
    pixels: np.ndarray,
    mode: str = "RGB",
    device: str | None = None,
    metadata: dict[bytes, bytes] | None = None,
    tile_size: int | None = None,
    workers: int | None = None,
    model: str | None = None,
) -> None:
    """Encode a uint8 array (H, W, bands) of ``mode`` to ``fp`` as a complete .l3c file.

    Every argument is checked before the first byte is written. Tiles are written as
    they finish, in order. ``metadata`` maps metadata section tags
    (``_format.METADATA_TAGS``) to bytes that are stored verbatim. ``model`` names a
    bundled model (``l3c models``; default: the best one); ``tile_size`` defaults to
    the model family's (``DEFAULT_TILE``).
    """
    pixels = _check_pixels(pixels, mode)
    loaded, header, head = file_head(
        pixels.shape[1], pixels.shape[0], mode, device, metadata, tile_size, model
    )
    workers = workers or default_workers(device)

    def encode_tile(tile: Tile) -> bytes:
        view = pixels[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width]
        return _format.pack_section(_format.TILE_TAG, _encode_tile(loaded, view, mode))

    fp.write(head)
    with _one_torch_thread():
        tiles, count = header.tiles(), header.tile_count()
        for section in _ordered_map(_in_worker(encode_tile), tiles, min(workers, count)):
            fp.write(section)


def encode(
    pixels: np.ndarray,
    mode: str = "RGB",
    device: str | None = None,
    metadata: dict[bytes, bytes] | None = None,
    tile_size: int | None = None,
    workers: int | None = None,
    model: str | None = None,
) -> bytes:
    """The bytes of a complete .l3c file; see ``write``."""
    out = io.BytesIO()
    write(out, pixels, mode, device, metadata, tile_size, workers, model)
    return out.getvalue()


def _encode_tile(model: _model.LoadedModel, pixels: np.ndarray, mode: str) -> bytes:
    streams = []
    for layer in LAYERS[mode]:
        if model.family == "polyphase":
            view = pixels[:, :, list(layer.view)]
            streams += _polyphase.encode_layer(model, view, len(layer.coded))
        else:
            streams += _encode_layer(model, pixels, layer)
    return _format.pack_tile(zlib.crc32(np.ascontiguousarray(pixels).tobytes()), streams)


def _encode_layer(model: _model.LoadedModel, pixels: np.ndarray, layer: Layer) -> list[bytes]:
    """The layer's streams in file order: z(S) .. z(1), then its coded planes."""
    import torch

    from pillow_l3c import _coder

    net, dev = model.module, model.device
    h, w = pixels.shape[:2]
    view = pad_image(pixels[:, :, list(layer.view)])
    x = torch.from_numpy(view).permute(2, 0, 1)[None].contiguous().to(dev)
    symbols = net.extract(x)
    top = symbols[-1].reshape(-1).to(torch.int32).cpu().numpy()
    streams = [_coder.encode_cdf(top, uniform_cdf(model.levels), PRECISION)]
    feat = None
    for s in range(model.scales, 0, -1):
        feat, params = net.predict(s, symbols[s - 1], feat)
        if s > 1:
            target = symbols[s - 2].reshape(-1).to(torch.int32).cpu().numpy()
            mix = _integers(model, net.latent_mixture(params))
            streams.append(_coder.encode_mixture(target, *mix, model.levels, PRECISION))
    for j, band in enumerate(layer.coded):
        mix = _integers(model, _crop(net.rgb_mixture(params, j, x), x, h, w))
        target = np.ascontiguousarray(pixels[:, :, band]).reshape(-1).astype(np.int32)
        streams.append(_coder.encode_mixture(target, *mix, SAMPLE_LEVELS, PRECISION))
    return streams


def _crop(
    mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor], x: torch.Tensor, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the mixtures of the real pixels, dropping the padding."""
    hp, wp = x.shape[2], x.shape[3]
    return tuple(t.reshape(t.shape[0], hp, wp)[:, :h, :w].reshape(t.shape[0], -1) for t in mixture)  # type: ignore[return-value]


# --- decoding ------------------------------------------------------------------------


def read_header(fp: BinaryIO) -> tuple[Header, dict[bytes, bytes]]:
    """Header and metadata of a file, leaving ``fp`` at the first tile."""
    header = _format.read_header(fp)
    return header, _format.read_metadata(fp, header.metadata_count)


def decode(
    data: bytes | BinaryIO, device: str | None = None, workers: int | None = None
) -> tuple[Header, np.ndarray]:
    """Header and pixels (H, W, bands) uint8 of a whole file."""
    fp = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    header, _ = read_header(fp)
    check_size(header)
    return header, decode_tiles(header, fp, device, workers)


def check_size(header: Header) -> None:
    """Pillow's decompression-bomb policy, for callers that bypass Image.open."""
    from PIL import Image

    Image._decompression_bomb_check((header.width, header.height))


def _check_length(header: Header, fp: BinaryIO, streams: int) -> None:
    """Refuse, before the pixels are allocated, a file too short for its tiles (a few
    bytes that claim gigapixels)."""
    if not fp.seekable():
        return
    here = fp.tell()
    present = fp.seek(0, io.SEEK_END) - here
    fp.seek(here)
    need = header.tile_count() * _format.min_tile_bytes(streams)
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


def decode_tiles(
    header: Header,
    fp: BinaryIO,
    device: str | None = None,
    workers: int | None = None,
    keep_truncated: bool = False,
) -> np.ndarray:
    """Pixels (H, W, bands) uint8 of the tiles that follow the metadata.

    A file that ends early raises TruncatedFileError (before the pixels are allocated
    when ``fp`` can tell its length), unless ``keep_truncated``: then the tiles before
    the cut are decoded and the rest stays black (Pillow's LOAD_TRUNCATED_IMAGES).
    Any other damage raises CorruptStreamError; pixels are never returned unchecked.
    """
    check_tile_limit(header)
    if not keep_truncated:
        model = _model.load(device, wanted=header.model_id)
        corner = header.tile(header.rows - 1, header.columns - 1)  # the fewest streams
        _check_length(header, fp, tile_streams(model, header.mode, corner.height, corner.width))
    out = np.zeros((header.height, header.width, header.planes), dtype=np.uint8)

    def payloads() -> Iterator[tuple[Tile, bytes]]:
        for tile in header.tiles():
            try:
                payload = _format.read_tile(fp)
            except _format.TruncatedFileError:
                if not keep_truncated:
                    raise
                return
            yield tile, payload

    workers = min(workers or default_workers(device), header.tile_count())
    for tile, pixels in decode_tile_list(header, payloads(), device, workers, check_limit=False):
        out[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width] = pixels
    return out


def decode_tile_list(
    header: Header,
    jobs: Iterable[tuple[Tile, bytes]],
    device: str | None = None,
    workers: int | None = None,
    check_limit: bool = True,
) -> Iterator[tuple[Tile, np.ndarray]]:
    """(tile, pixels) for each (tile, payload) of ``jobs``, in order, decoded on
    ``workers`` threads, at most twice as many in flight: the whole image
    (``decode_tiles``) or a few tiles (``_region``). ``check_limit=False``: the caller
    checked the tile limit when it opened the file (a lazy array checks in the process
    that opens it, by that process's settings, not in each worker)."""
    if check_limit:
        check_tile_limit(header)
    model = _model.load(device, wanted=header.model_id)

    def decode_tile(job: tuple[Tile, bytes]) -> tuple[Tile, np.ndarray]:
        return job[0], decode_tile_payload(model, header.mode, *job)

    with _one_torch_thread():
        yield from _ordered_map(_in_worker(decode_tile), jobs, workers or default_workers(device))


def decode_tile_payload(
    model: _model.LoadedModel, mode: str, tile: Tile, payload: bytes
) -> np.ndarray:
    """The pixels (h, w, bands) of one tile section's payload, checked against the CRC-32
    the encoder stored: a damaged tile raises, it never yields wrong pixels."""
    streams = tile_streams(model, mode, tile.height, tile.width)
    crc, data = _format.unpack_tile(payload, streams)
    pixels = _decode_tile(model, data, mode, tile)
    if zlib.crc32(pixels.tobytes()) != crc:
        msg = f"L3C pixel checksum mismatch in tile {tile.index}: the file is damaged"
        raise CorruptStreamError(msg)
    return pixels


def _decode_tile(
    model: _model.LoadedModel, streams: list[bytes], mode: str, tile: Tile
) -> np.ndarray:
    pixels = np.empty((tile.height, tile.width, _format.MODES[mode][1]), dtype=np.uint8)
    for layer in LAYERS[mode]:
        count = layer_streams(model, layer, tile.height, tile.width)
        if model.family == "polyphase":
            view = _polyphase.decode_layer(
                model, streams[:count], tile.height, tile.width, len(layer.coded)
            )
            for k in range(len(layer.coded)):
                channel = model.order[k]
                pixels[:, :, layer.view[channel]] = view[:, :, channel]
        else:
            _decode_layer(model, streams[:count], layer, pixels)
        streams = streams[count:]
    return pixels


def _decode_layer(
    model: _model.LoadedModel, streams: list[bytes], layer: Layer, pixels: np.ndarray
) -> None:
    """Decode the bands of ``layer`` into ``pixels`` (h, w, bands) of one tile."""
    import torch

    from pillow_l3c import _coder

    net, dev = model.module, model.device
    h, w = pixels.shape[:2]
    hp, wp = h + (-h % PAD_MULTIPLE), w + (-w % PAD_MULTIPLE)
    shapes = [model.latent_shape(s, hp, wp) for s in range(1, model.scales + 1)]
    coded = iter(streams)
    top = _coder.decode_cdf(
        next(coded), uniform_cdf(model.levels), int(np.prod(shapes[-1])), PRECISION
    )
    z = torch.from_numpy(top.astype(np.int64)).reshape(1, *shapes[-1]).to(dev)
    feat = None
    for s in range(model.scales, 0, -1):
        feat, params = net.predict(s, z, feat)
        if s > 1:
            mix = _integers(model, net.latent_mixture(params))
            sym = _coder.decode_mixture(next(coded), *mix, model.levels, PRECISION)
            z = torch.from_numpy(sym.astype(np.int64)).reshape(1, *shapes[s - 2]).to(dev)
    x = torch.zeros((1, 3, hp, wp), dtype=torch.uint8, device=dev)
    for j, band in enumerate(layer.coded):
        mix = _integers(model, _crop(net.rgb_mixture(params, j, x), x, h, w))
        plane = _coder.decode_mixture(next(coded), *mix, SAMPLE_LEVELS, PRECISION)
        pixels[:, :, band] = plane.reshape(h, w)
        x[0, j, :h, :w] = torch.from_numpy(pixels[:, :, band]).to(dev)
