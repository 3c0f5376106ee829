"""One tile through a polyphase model (pillow_l3c/network/polyphase.py).

Order of coding, per layer (the decoder's order; each stream is one coder call):
the coarsest scale's coded planes as plain bytes (one stream), then for each finer
scale, coarsest first: stage 0 (b = x[1::2, 1::2]), one stream per coded plane; stage
1 (c = x[0::2, 1::2] and d = x[1::2, 0::2], whose symbols share one stream per plane).
Planes are coded in the model's ORDER (G, R, B), each conditioned on those before it.
A grey band is shown to the network as (Y, Y, Y) and only one plane is coded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from pillow_l3c._model import LoadedModel

PRECISION = 16
MIN_SIDE = 8  # network/polyphase.py MIN_SIDE, stored in the model as min_side


def scale_count(height: int, width: int, min_side: int = MIN_SIDE) -> int:
    """How many times a tile is split before its coarsest scale (as the model does)."""
    n = 0
    while min(height, width) > min_side:
        height, width = (height + 1) // 2, (width + 1) // 2
        n += 1
    return n


def stream_count(planes: int, height: int, width: int) -> int:
    """Streams of one layer of ``planes`` coded planes in a height x width tile."""
    return 1 + 2 * planes * scale_count(height, width)


def _uniform_cdf() -> np.ndarray:
    return ((np.arange(257, dtype=np.int64) << PRECISION) // 256).astype(np.int32)[None]


def _flat(t: torch.Tensor) -> np.ndarray:
    return t.reshape(-1).to(dtype=__import__("torch").int32).cpu().numpy()


def encode_layer(model: LoadedModel, view: np.ndarray, planes: int) -> list[bytes]:
    """The streams of one layer: ``view`` (h, w, 3) uint8 as the network sees it, of
    which the first ``planes`` channels in the model's order are coded."""
    import torch

    from pillow_l3c import _coder

    net, order = model.module, model.order
    x = torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1)[None].to(model.device)
    x = x.to(torch.int64)
    scales = [x]
    for _ in range(scale_count(x.shape[2], x.shape[3])):
        scales.append(scales[-1][..., 0::2, 0::2])
    coded = order[:planes]
    streams = [_coder.encode_cdf(_flat(scales[-1][0, coded]), _uniform_cdf(), PRECISION)]
    for s in range(len(scales) - 2, -1, -1):
        xs, a = scales[s], scales[s + 1]
        b = xs[..., 1::2, 1::2]
        feat, s4 = net.features(0, a, a, b.shape[2], b.shape[3])
        for k in range(planes):
            mix = net.mixture(0, k, feat, s4, b)
            streams.append(
                _coder.encode_mixture(_flat(b[0, order[k]]), *_numpy(mix), 256, PRECISION)
            )
        c = xs[..., 0::2, 1::2]
        dt = xs[..., 1::2, 0::2].transpose(2, 3)
        at, bt = a.transpose(2, 3), b.transpose(2, 3)
        feat_c, s4_c = net.features(1, a, b, c.shape[2], c.shape[3])
        feat_d, s4_d = net.features(1, at, bt, dt.shape[2], dt.shape[3])
        for k in range(planes):
            mix_c = net.mixture(1, k, feat_c, s4_c, c)
            mix_d = net.mixture(1, k, feat_d, s4_d, dt)
            target = np.concatenate([_flat(c[0, order[k]]), _flat(dt[0, order[k]])])
            mix = _joined(mix_c, mix_d)
            streams.append(_coder.encode_mixture(target, *mix, 256, PRECISION))
    return streams


def _numpy(mix: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> list[np.ndarray]:
    """(K, n) int32 tensors -> the coder's (n, K) arrays."""
    return [t.t().contiguous().cpu().numpy() for t in mix]


def _joined(
    first: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    second: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> list[np.ndarray]:
    return [np.concatenate([p, q]) for p, q in zip(_numpy(first), _numpy(second), strict=True)]


def decode_layer(
    model: LoadedModel, streams: list[bytes], height: int, width: int, planes: int
) -> np.ndarray:
    """The (height, width, 3) view of one layer from its streams; channels that are
    not coded (a grey band's) repeat the first coded one."""
    import torch

    from pillow_l3c import _coder

    net, order, dev = model.module, model.order, model.device
    sizes = [(height, width)]
    for _ in range(scale_count(height, width)):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    it = iter(streams)
    hs, ws = sizes[-1]
    top = _coder.decode_cdf(next(it), _uniform_cdf(), planes * hs * ws, PRECISION)
    x = _fill(torch.from_numpy(top.astype(np.int64)).reshape(planes, hs, ws), order, planes)
    x = x[None].to(dev)
    for s in range(len(sizes) - 2, -1, -1):
        h, w = sizes[s]
        a = x
        b = torch.zeros((1, 3, h // 2, w // 2), dtype=torch.int64, device=dev)
        feat, s4 = net.features(0, a, a, h // 2, w // 2)
        for k in range(planes):
            mix = _numpy(net.mixture(0, k, feat, s4, b))
            sym = _coder.decode_mixture(next(it), *mix, 256, PRECISION)
            _set_plane(b, sym, order, k, planes)
        hc, wc = (h + 1) // 2, w // 2
        c = torch.zeros((1, 3, hc, wc), dtype=torch.int64, device=dev)
        dt = torch.zeros((1, 3, wc + (w % 2), h // 2), dtype=torch.int64, device=dev)
        at, bt = a.transpose(2, 3), b.transpose(2, 3)
        feat_c, s4_c = net.features(1, a, b, hc, wc)
        feat_d, s4_d = net.features(1, at, bt, dt.shape[2], dt.shape[3])
        for k in range(planes):
            mix = _joined(net.mixture(1, k, feat_c, s4_c, c), net.mixture(1, k, feat_d, s4_d, dt))
            sym = _coder.decode_mixture(next(it), *mix, 256, PRECISION)
            _set_plane(c, sym[: hc * wc], order, k, planes)
            _set_plane(dt, sym[hc * wc :], order, k, planes)
        x = torch.empty((1, 3, h, w), dtype=torch.int64, device=dev)
        x[..., 0::2, 0::2] = a
        x[..., 1::2, 1::2] = b
        x[..., 0::2, 1::2] = c
        x[..., 1::2, 0::2] = dt.transpose(2, 3)
    return x[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def _fill(planes_: torch.Tensor, order: list[int], planes: int) -> torch.Tensor:
    """(planes, h, w) decoded in the model's order -> (3, h, w) by channel."""
    import torch

    out = torch.empty((3, *planes_.shape[1:]), dtype=torch.int64)
    for k in range(3):
        out[order[k]] = planes_[min(k, planes - 1)] if planes == 3 else planes_[0]
    return out


def _set_plane(t: torch.Tensor, sym: np.ndarray, order: list[int], k: int, planes: int) -> None:
    """Write a decoded plane into t (1, 3, h, w); a single coded plane fills all three."""
    import torch

    plane = torch.from_numpy(sym.astype(np.int64)).reshape(t.shape[2], t.shape[3]).to(t.device)
    if planes == 1:
        t[0] = plane
    else:
        t[0, order[k]] = plane
