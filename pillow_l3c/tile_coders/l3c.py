"""The L3C tile coder: the paper's design (Mentzer et al., CVPR 2019), one tile at a time.

Per layer (``layers.LAYERS``), in the decoder's order (rANS encodes each stream in
reverse): z(S) under a uniform prior, then z(S-1) .. z(1) each from D(s+1), then the
coded planes from D(1), each coupled to the planes before it. The network and the
mixture arithmetic run on the model's device; only int32 mixture parameters and
symbols cross to the C++ coder, which computes each CDF on demand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pillow_l3c._constants import (
    INV_SCALE_FRACTION_BITS,
    MAX_ABS_MEAN,
    MAX_INV_SCALE,
    MEAN_FRACTION_BITS,
    PRECISION,
    SAMPLE_LEVELS,
    WEIGHT_BITS,
)
from pillow_l3c.tile_coders.base import EncodeOptions, LearnedCoder, pixel_checksums
from pillow_l3c.tile_coders.layers import LAYERS, Layer

if TYPE_CHECKING:
    import torch

    from pillow_l3c._model import LoadedModel

PAD_MULTIPLE = 8  # three stride-2 scales


class L3cCoder(LearnedCoder):
    """A tile through an L3C model: a hierarchy of learned latents, then the pixels."""

    def stream_count(self, mode: str, height: int, width: int) -> int:
        return sum(self.model.scales + len(layer.coded) for layer in LAYERS[mode])

    def encode_tile(self, pixels: np.ndarray, mode: str, options: EncodeOptions) -> list[bytes]:
        streams: list[bytes] = []
        for layer in LAYERS[mode]:
            streams += _encode_layer(self.model, pixels, layer)
        return streams

    def decode_tile(self, streams: list[bytes], mode: str, height: int, width: int) -> np.ndarray:
        from pillow_l3c import _format

        pixels = np.empty((height, width, _format.MODES[mode][1]), dtype=np.uint8)
        for layer in LAYERS[mode]:
            count = self.model.scales + len(layer.coded)
            _decode_layer(self.model, streams[:count], layer, pixels)
            streams = streams[count:]
        return pixels

    def checksums(self, pixels: np.ndarray) -> list[int]:
        return pixel_checksums(pixels)


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
    model: LoadedModel, mixture: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coder's (n, K) int32 weights, means and inverse scales of a (K, n) mixture:
    an exact model computes them itself, in integers; a float model's are quantized here."""
    if model.exact:
        return tuple(t.t().contiguous().cpu().numpy() for t in mixture)  # type: ignore[return-value]
    return quantize_mixture(*mixture)


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


def _encode_layer(model: LoadedModel, pixels: np.ndarray, layer: Layer) -> list[bytes]:
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


def _decode_layer(
    model: LoadedModel, streams: list[bytes], layer: Layer, pixels: np.ndarray
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
