"""The polyphase tile coder: one tile through a pixel-context model
(pillow_l3c/network/polyphase.py).

Order of coding, per layer (the decoder's order; each stream is one coder call):
the coarsest scale's coded planes as plain bytes (one stream), then for each finer
scale, coarsest first: stage 0 (b = x[1::2, 1::2]), one stream per coded plane; stage
1 (c = x[0::2, 1::2], then d = x[1::2, 0::2] as c of the transposed image, their
symbols sharing one stream per plane).
Planes are coded in the model's ORDER (G, R, B), each conditioned on those before it.
A grey band is shown to the network as (Y, Y, Y) and only one plane is coded.

Each mixture stream starts with one signed byte, the stream's scale adaptation: the
encoder tries moving every log-scale of the stream by a multiple of 1/16 and keeps the
offset that codes it shortest (the way JPEG XL fits its context model to each image,
in its cheapest form). Measured in docs/TRAINING.md. A stream that would code longer
than its symbols as bytes (noise) is stored as bytes instead (first byte 0x7F).

A tile may be given threads its codec call has idle (a one-tile image, the last tile of
a grid): its network passes then run in row bands or side by side
(``polyphase_rows.Runner``) and its encoder's offset tries are shared, with the same
integers and so the same bytes as on one thread.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from pillow_l3c._constants import (
    MAX_SCALE_OFFSET,
    POLYPHASE_MIN_SIDE,
    PRECISION,
    SAMPLE_LEVELS,
    SCALE_OFFSET_UNIT,
    STORED_STREAM,
)
from pillow_l3c.errors import CorruptStreamError
from pillow_l3c.tile_coders.base import EncodeOptions, LearnedCoder
from pillow_l3c.tile_coders.layers import LAYERS

if TYPE_CHECKING:
    import torch

    from pillow_l3c._model import LoadedModel

    Mixture = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

MIN_SIDE = POLYPHASE_MIN_SIDE  # the model stores it too: _model checks they agree
FIRST_TRY = (0, -6, -3, 3, 6)  # then the best's neighbours within 2


class PolyphaseCoder(LearnedCoder):
    """A tile through a polyphase model, layer by layer (``layers.LAYERS``).

    Its checksums are one CRC-32 per scale of the tile's pyramid, coarsest first (the
    pixels [::2^k, ::2^k] for k = S .. 0), so that a decode of the coarse scales alone
    is verified too; the last covers every pixel.
    """

    def stream_count(self, mode: str, height: int, width: int) -> int:
        return sum(stream_count(len(layer.coded), height, width) for layer in LAYERS[mode])

    def encode_tile(self, pixels: np.ndarray, mode: str, options: EncodeOptions) -> list[bytes]:
        streams: list[bytes] = []
        for layer in LAYERS[mode]:
            view = pixels[:, :, list(layer.view)]
            streams += encode_layer(self.model, view, len(layer.coded), options.adapt_scales)
        return streams

    def decode_tile(self, streams: list[bytes], mode: str, height: int, width: int) -> np.ndarray:
        from pillow_l3c import _format

        pixels = np.empty((height, width, _format.MODES[mode][1]), dtype=np.uint8)
        for layer in LAYERS[mode]:
            count = stream_count(len(layer.coded), height, width)
            view = decode_layer(self.model, streams[:count], height, width, len(layer.coded))
            for k in range(len(layer.coded)):
                channel = self.model.order[k]
                pixels[:, :, layer.view[channel]] = view[:, :, channel]
            streams = streams[count:]
        return pixels

    def checksums(self, pixels: np.ndarray) -> list[int]:
        steps = [1 << k for k in range(scale_count(*pixels.shape[:2]), -1, -1)]
        return [zlib.crc32(np.ascontiguousarray(pixels[::s, ::s]).tobytes()) for s in steps]

    def decode_levels(
        self, streams: list[bytes], mode: str, height: int, width: int, level: int
    ) -> tuple[np.ndarray, int]:
        """The tile's pixels [::2^j, ::2^j] and j = min(level, the tile's scales): the
        coarse scales alone, a fraction 4^-j of the work (``Image.draft``). The caller
        checks them against ``checksums``' entry for scale j and decimates the rest."""
        from pillow_l3c import _format

        got = min(level, scale_count(height, width))
        step = 1 << got
        hj, wj = -(-height // step), -(-width // step)
        pixels = np.empty((hj, wj, _format.MODES[mode][1]), dtype=np.uint8)
        for layer in LAYERS[mode]:
            count = stream_count(len(layer.coded), height, width)
            view = decode_layer(self.model, streams[:count], height, width, len(layer.coded), got)
            for k in range(len(layer.coded)):
                channel = self.model.order[k]
                pixels[:, :, layer.view[channel]] = view[:, :, channel]
            streams = streams[count:]
        return pixels, got


def scale_count(height: int, width: int) -> int:
    """How many times a tile is split before its coarsest scale (as the model does)."""
    n = 0
    while min(height, width) > MIN_SIDE:
        height, width = (height + 1) // 2, (width + 1) // 2
        n += 1
    return n


def stream_count(planes: int, height: int, width: int) -> int:
    """Streams of one layer of ``planes`` coded planes in a height x width tile."""
    return 1 + 2 * planes * scale_count(height, width)


def _uniform_cdf() -> np.ndarray:
    levels = np.arange(SAMPLE_LEVELS + 1, dtype=np.int64)
    return ((levels << PRECISION) // SAMPLE_LEVELS).astype(np.int32)[None]


def _flat(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.reshape(-1).cpu().numpy().astype(np.int32))


def _columns(t: torch.Tensor) -> np.ndarray:
    """(K, n) -> the coder's (n, K) int32 array."""
    return np.ascontiguousarray(t.t().cpu().numpy())


def _joined(mixtures: list[Mixture]) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """One stream's coder weights and means (n, K) and its log-scales (K, n), from the
    mixtures of the grids it codes, in order (c then d for stage 1)."""
    import torch

    weights = np.concatenate([_columns(m[0]) for m in mixtures])
    means = np.concatenate([_columns(m[1]) for m in mixtures])
    return weights, means, torch.cat([m[2] for m in mixtures], dim=1)


def _adapted_stream(
    net: object, target: np.ndarray, mixtures: list[Mixture], adapt: bool = True
) -> bytes:
    """The offset byte and the coded symbols, with the offset that codes them shortest
    (ties: the smallest offset, so that the choice is deterministic)."""

    from pillow_l3c import _coder

    weights, means, log_scales = _joined(mixtures)
    tried: dict[int, bytes] = {}

    def coded(offset: int) -> bytes:
        inv = _columns(net.inv_scales(log_scales, offset * SCALE_OFFSET_UNIT))  # type: ignore[attr-defined]
        return _coder.encode_mixture(target, weights, means, inv, SAMPLE_LEVELS, PRECISION)

    def attempt(offsets: Iterable[int]) -> None:
        todo = [o for o in dict.fromkeys(offsets) if abs(o) <= MAX_SCALE_OFFSET and o not in tried]
        tried.update(zip(todo, _tries(coded, todo, target), strict=True))

    attempt(FIRST_TRY if adapt else (0,))
    centre = min(tried, key=lambda o: (len(tried[o]), abs(o), o))
    if adapt:
        attempt((centre - 2, centre - 1, centre + 1, centre + 2))
    best = min(tried, key=lambda o: (len(tried[o]), abs(o), o))
    if len(tried[best]) > len(target):  # noise: never more than 8 bits a symbol
        return bytes([STORED_STREAM]) + target.astype(np.uint8).tobytes()
    return bytes([best & 0xFF]) + tried[best]


def _tries(coded: Callable[[int], bytes], offsets: list[int], target: np.ndarray) -> list[bytes]:
    """``coded`` of each offset, in order, split between this thread and any the codec
    call lends (``_threads.spare_threads``): the tries are independent, and which one is
    kept depends only on their lengths, so the stream is the same."""
    from pillow_l3c import _threads
    from pillow_l3c.tile_coders.polyphase_rows import MIN_SHARED_PIXELS

    wanted = len(offsets) - 1 if len(target) >= MIN_SHARED_PIXELS else 0
    with _threads.spare_threads(wanted) as lent:
        if not lent:
            return [coded(o) for o in offsets]
        groups = [offsets[i :: lent + 1] for i in range(lent + 1)]
        done = _threads.run_all([partial(_each, coded, g) for g in groups], lent)
    by_offset = {
        o: data
        for group, out in zip(groups, done, strict=True)
        for o, data in zip(group, out, strict=True)
    }
    return [by_offset[o] for o in offsets]


def _each(coded: Callable[[int], bytes], offsets: list[int]) -> list[bytes]:
    return [coded(o) for o in offsets]


def _adapted_decode(net: object, data: bytes, mixtures: list[Mixture]) -> np.ndarray:

    from pillow_l3c import _coder

    if not data:
        msg = "L3C stream is empty"
        raise CorruptStreamError(msg)
    if data[0] == STORED_STREAM:
        count = sum(int(m[0].shape[1]) for m in mixtures)
        if len(data) - 1 != count:
            msg = f"L3C stored stream holds {len(data) - 1} bytes for {count} symbols"
            raise CorruptStreamError(msg)
        return np.frombuffer(data, dtype=np.uint8, offset=1).astype(np.int32)
    offset = data[0] - 256 if data[0] >= 128 else data[0]  # a signed byte
    if abs(offset) > MAX_SCALE_OFFSET:
        msg = f"L3C stream has a scale offset of {offset}, beyond +-{MAX_SCALE_OFFSET}"
        raise CorruptStreamError(msg)
    weights, means, log_scales = _joined(mixtures)
    inv = _columns(net.inv_scales(log_scales, offset * SCALE_OFFSET_UNIT))  # type: ignore[attr-defined]
    return _coder.decode_mixture(data[1:], weights, means, inv, SAMPLE_LEVELS, PRECISION)


def encode_layer(
    model: LoadedModel, view: np.ndarray, planes: int, adapt: bool = True
) -> list[bytes]:
    """The streams of one layer: ``view`` (h, w, 3) uint8 as the network sees it, of
    which the first ``planes`` channels in the model's order are coded; ``adapt``
    fits each stream's scale offset (off: every offset 0, for the ablation)."""
    import torch

    from pillow_l3c import _coder
    from pillow_l3c.tile_coders.polyphase_rows import Pass, Runner

    net, order = model.module, model.order
    x = torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1)[None].to(model.device)
    x = x.to(torch.int64)
    scales = [x]
    for _ in range(scale_count(x.shape[2], x.shape[3])):
        scales.append(scales[-1][..., 0::2, 0::2])
    coded = list(order[:planes])
    streams = [_coder.encode_cdf(_flat(scales[-1][0, coded]), _uniform_cdf(), PRECISION)]
    runner = Runner(net, x.device.type)
    for s in range(len(scales) - 2, -1, -1):
        xs, a = scales[s], scales[s + 1]
        b = xs[..., 1::2, 1::2]
        bands = runner.features([Pass(0, (a, a, a), b.shape[2], b.shape[3])])
        for k in range(planes):
            mixes = runner.mixtures(0, k, bands, [b])
            streams.append(_adapted_stream(net, _flat(b[0, order[k]]), mixes, adapt))
        c, d = xs[..., 0::2, 1::2], xs[..., 1::2, 0::2]
        dt = d.transpose(2, 3)
        at, bt = a.transpose(2, 3), b.transpose(2, 3)
        bands = runner.features(
            [Pass(1, (a, b, b), c.shape[2], c.shape[3]), Pass(1, (at, bt, bt), *dt.shape[2:])]
        )
        for k in range(planes):
            mixes = runner.mixtures(1, k, bands, [c, dt])
            target = np.concatenate([_flat(c[0, order[k]]), _flat(dt[0, order[k]])])
            streams.append(_adapted_stream(net, target, mixes, adapt))
    return streams


def decode_layer(
    model: LoadedModel,
    streams: list[bytes],
    height: int,
    width: int,
    planes: int,
    level: int = 0,
) -> np.ndarray:
    """The (height, width, 3) view of one layer from its streams; channels that are
    not coded (a grey band's) repeat the coded one. ``level`` k > 0 stops at the
    pyramid's scale k, the view's pixels [::2^k, ::2^k] (or at the coarsest scale, if
    the tile has fewer): only the streams of the scales above it are decoded."""
    import torch

    from pillow_l3c import _coder
    from pillow_l3c.tile_coders.polyphase_rows import Pass, Runner

    net, order, dev = model.module, model.order, model.device
    sizes = [(height, width)]
    for _ in range(scale_count(height, width)):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    it = iter(streams)
    hs, ws = sizes[-1]
    top = _coder.decode_cdf(next(it), _uniform_cdf(), planes * hs * ws, PRECISION)
    x = torch.empty((1, 3, hs, ws), dtype=torch.int64, device=dev)
    for k in range(planes):
        _set_plane(x, top[k * hs * ws : (k + 1) * hs * ws], order, k, planes)
    runner = Runner(net, x.device.type)
    for s in range(len(sizes) - 2, -1, -1):
        if s + 1 <= level:  # x is scale s + 1 already: as coarse as asked
            break
        h, w = sizes[s]
        a = x
        b = torch.zeros((1, 3, h // 2, w // 2), dtype=torch.int64, device=dev)
        bands = runner.features([Pass(0, (a, a, a), h // 2, w // 2)])
        for k in range(planes):
            sym = _adapted_decode(net, next(it), runner.mixtures(0, k, bands, [b]))
            _set_plane(b, sym, order, k, planes)
        hc, wc = (h + 1) // 2, w // 2
        c = torch.zeros((1, 3, hc, wc), dtype=torch.int64, device=dev)
        dt = torch.zeros((1, 3, (w + 1) // 2, h // 2), dtype=torch.int64, device=dev)
        at, bt = a.transpose(2, 3), b.transpose(2, 3)
        bands = runner.features([Pass(1, (a, b, b), hc, wc), Pass(1, (at, bt, bt), *dt.shape[2:])])
        for k in range(planes):
            sym = _adapted_decode(net, next(it), runner.mixtures(1, k, bands, [c, dt]))
            _set_plane(c, sym[: hc * wc], order, k, planes)
            _set_plane(dt, sym[hc * wc :], order, k, planes)
        d = dt.transpose(2, 3)
        x = torch.empty((1, 3, h, w), dtype=torch.int64, device=dev)
        x[..., 0::2, 0::2] = a
        x[..., 1::2, 1::2] = b
        x[..., 0::2, 1::2] = c
        x[..., 1::2, 0::2] = d
    return x[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def _set_plane(t: torch.Tensor, sym: np.ndarray, order: list[int], k: int, planes: int) -> None:
    """Write a decoded plane into t (1, 3, h, w); a single coded plane fills all three."""
    import torch

    plane = torch.from_numpy(sym.astype(np.int64)).reshape(t.shape[2], t.shape[3]).to(t.device)
    if planes == 1:
        t[0] = plane
    else:
        t[0, order[k]] = plane
