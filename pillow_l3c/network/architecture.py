"""The L3C network (Mentzer et al., CVPR 2019), written once for training and export.

The image x is modelled jointly with latents z(1), z(2), z(3) at 1/2, 1/4 and 1/8
resolution. Feature extractors E(s) produce the latents; predictors D(s) turn the
latent of scale s into a mixture of discretized logistics for everything at scale s-1.
Decoding is three predictor passes, never one pass per pixel.

Every distribution leaves this module in *bin units*: symbol ``k`` of an alphabet is
the bin centred on ``k``, so the codec's integer mixture coder needs no knowledge of
what a symbol means (a latent level or an 8-bit sample).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOG_SCALE_MIN = -7.0  # the paper clamps log-scales here (in [-1, 1] units)
# Latents get a wider floor, 0.15 of a level: a predictor that became certain of a
# latent (scale ~0.01 level) made the move of one latent by one level cost ~100 bits,
# and training diverged within a few hundred steps every time.
LATENT_SCALE_MIN = 0.15


@dataclass(frozen=True)
class L3cConfig:
    """Hyper-parameters; the published model is the default."""

    scales: int = 3
    latent_channels: int = 5  # C
    levels: int = 25  # L
    mixtures: int = 10  # K
    filters: int = 64  # Cf
    resblocks: int = 8

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _conv(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k // 2), dilation=dilation)


class ResBlock(nn.Module):
    """conv-ReLU-conv plus identity, no normalization (as published)."""

    def __init__(self, cf: int) -> None:
        super().__init__()
        self.conv1 = _conv(cf, cf, 3)
        self.conv2 = _conv(cf, cf, 3)
        # A zero-initialised residual branch starts every block as the identity, so
        # an untrained deep stack still passes information straight through; this is
        # what makes the latents useful early in training.
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class Body(nn.Module):
    """Residual blocks plus a 3x3 conv, wrapped in a global skip."""

    def __init__(self, cf: int, blocks: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[ResBlock(cf) for _ in range(blocks)])
        self.tail = _conv(cf, cf, 3)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.tail(self.blocks(x))


class Quantizer(nn.Module):
    """Nearest of L evenly spaced levels in [-1, 1]; straight-through gradients."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels

    def symbols(self, z: Tensor) -> Tensor:
        half = (self.levels - 1) / 2.0
        return torch.round((z.clamp(-1.0, 1.0) + 1.0) * half).to(torch.int64)

    def values(self, symbols: Tensor) -> Tensor:
        half = (self.levels - 1) / 2.0
        return symbols.to(torch.float32) / half - 1.0

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        # The straight-through gradient passes the clamp, not the raw value: with an
        # identity gradient outside [-1, 1], the coarsest latent (free under its
        # uniform prior) was pushed outwards without bound until E(3) overflowed.
        sym = self.symbols(z)
        soft = z.clamp(-1.0, 1.0)
        return soft + (self.values(sym) - soft).detach(), sym


class Extractor(nn.Module):
    """E(s): 5x5 stride-2 head, residual body, features F(s) and the latent z(s)."""

    def __init__(self, cin: int, cfg: L3cConfig) -> None:
        super().__init__()
        self.head = _conv(cin, cfg.filters, 5, stride=2)
        self.body = Body(cfg.filters, cfg.resblocks)
        self.to_latent = _conv(cfg.filters, cfg.latent_channels, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feat = self.body(self.head(x))
        return feat, self.to_latent(feat)


class ProbabilityHead(nn.Module):
    """Atrous head: parallel 3x3 convs with dilation 1, 2, 4, then a 1x1 conv."""

    def __init__(self, cf: int, cout: int) -> None:
        super().__init__()
        self.d1 = _conv(cf, cf, 3, dilation=1)
        self.d2 = _conv(cf, cf, 3, dilation=2)
        self.d4 = _conv(cf, cf, 3, dilation=4)
        self.out = _conv(3 * cf, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.cat([self.d1(x), self.d2(x), self.d4(x)], dim=1))


class Predictor(nn.Module):
    """D(s): latent z(s) (+ coarser features) -> features and mixture at scale s-1."""

    def __init__(self, cfg: L3cConfig, params_out: int) -> None:
        super().__init__()
        cf = cfg.filters
        self.head = _conv(cfg.latent_channels, cf, 1)
        self.body = Body(cf, cfg.resblocks)
        self.up = nn.Sequential(_conv(cf, 4 * cf, 3), nn.PixelShuffle(2))
        self.prob = ProbabilityHead(cf, params_out)

    def forward(self, z: Tensor, coarser: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.head(z)
        if coarser is not None:
            h = h + coarser
        feat = self.up(self.body(h))
        return feat, self.prob(feat)


class L3C(nn.Module):
    """The full model; the methods marked for export form the codec's interface.

    Mixture tensors returned to the codec have shape (K, N) flattened over
    (channel, y, x) in that order: logits of the weights, means and scales in bins.
    """

    def __init__(self, cfg: L3cConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # What the loader requires of every model (pillow_l3c/_model.py, load): the
        # float model, exported with --float, says that it is not integer-exact.
        self.family = "l3c"
        self.exact = False
        self.scales = cfg.scales
        self.mixtures = cfg.mixtures
        self.latent_channels = cfg.latent_channels
        self.levels = cfg.levels
        self.log_scale_min = LOG_SCALE_MIN
        self.latent_log_scale_min = math.log(LATENT_SCALE_MIN / ((cfg.levels - 1) / 2.0))
        cf, c, k = cfg.filters, cfg.latent_channels, cfg.mixtures
        self.extractors = nn.ModuleList(
            [Extractor(3 if s == 0 else cf, cfg) for s in range(cfg.scales)]
        )
        # Coarse to fine: predictors[i] is D(S - i); the last one, D(1), predicts RGB.
        self.predictors = nn.ModuleList(
            [Predictor(cfg, k * 3 * 4 if s == 1 else k * c * 3) for s in range(cfg.scales, 0, -1)]
        )
        self.quantizer = Quantizer(cfg.levels)
        # Quantization-aware training: the predictors compute as the integer-exact
        # model will (network/exact.py), so that a model can be tuned for it.
        self.qat = False

    # -- training --------------------------------------------------------------------
    @torch.jit.unused
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Bits of the RGB scale, of z(1)..z(S-1) under their predictors, and of z(S).

        In eval mode the bits are what the coder pays; in training mode the gradient-
        friendly bound without the coder's probability floor (see mixture_nll_bits).

        ``x`` is float RGB in [0, 255], shape (B, 3, H, W), H and W multiples of 8.
        Returns total bits per batch element for (rgb, predicted latents, top latent).
        """
        h = (x - 127.5) / 127.5
        latents: list[Tensor] = []
        symbols: list[Tensor] = []
        for extractor in self.extractors:
            h, z = extractor(h)
            zq, sym = self.quantizer(z)
            latents.append(zq)
            symbols.append(sym)
        top = symbols[-1]
        top_bits = torch.full(
            (x.shape[0],), top[0].numel() * math.log2(self.levels), device=x.device
        )
        feat: Tensor | None = None
        latent_bits = torch.zeros(x.shape[0], device=x.device)
        rgb_bits = torch.zeros(x.shape[0], device=x.device)
        for i, predictor in enumerate(self.predictors):
            s = self.scales - i  # D(s) reads z(s) and predicts scale s-1
            if self.qat:
                from pillow_l3c.network.exact import qat_predict

                centre = (self.levels - 1) / 2.0
                feat, params = qat_predict(predictor, latents[s - 1], feat, centre)
            else:
                feat, params = predictor(latents[s - 1], feat)
            if s == 1:
                rgb_bits = self._rgb_bits(params, x)
            else:
                logits, mu, scale = self._latent_mixture(params)
                # The target is the straight-through value, not the integer symbol, so
                # that the latents' own cost trains E(s) too. Without this gradient E
                # makes the latents ever more informative and ever more expensive,
                # and training diverges (latents went from 0.7 to 8 bpsp in 250 steps).
                target = (latents[s - 2] + 1.0) * ((self.levels - 1) / 2.0)
                bits = mixture_nll_bits(
                    target, logits, mu, scale, self.levels, floor=not self.training
                )
                latent_bits = latent_bits + bits.flatten(1).sum(1)
        return rgb_bits, latent_bits, top_bits

    @torch.jit.unused
    def _rgb_bits(self, params: Tensor, x: Tensor) -> Tensor:
        target = x.round().to(torch.int64)
        bits = torch.zeros(x.shape[0], device=x.device)
        for c in range(3):
            logits, mu, scale = self._rgb_mixture(params, c, x)
            nll = mixture_nll_bits(target[:, c], logits, mu, scale, 256, floor=not self.training)
            bits = bits + nll.flatten(1).sum(1)
        return bits

    # -- shared by training and the codec ---------------------------------------------
    def _latent_mixture(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, K*C*3, h, w) -> logits, mean, scale, each (B, K, C, h, w), in bins."""
        b, _, hh, ww = params.shape
        p = params.view(b, 3, self.mixtures, self.latent_channels, hh, ww)
        half = (self.levels - 1) / 2.0
        mu = (p[:, 1] + 1.0) * half
        scale = torch.exp(p[:, 2].clamp(min=self.latent_log_scale_min)) * half
        return p[:, 0], mu, scale

    def _rgb_mixture(
        self, params: Tensor, channel: int, x: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Mixture of one colour channel, coupled to the channels decoded before it.

        ``x`` holds samples in [0, 255]; only channels below ``channel`` are read.
        Returns logits, mean and scale, each (B, K, h, w), in bins of one sample value.
        """
        b, _, hh, ww = params.shape
        p = params.view(b, 4, self.mixtures, 3, hh, ww)
        mu = p[:, 1, :, channel]
        coeff = torch.sigmoid(p[:, 3])
        xn = (x - 127.5) / 127.5
        if channel == 1:
            mu = mu + coeff[:, :, 0] * xn[:, 0:1]
        elif channel == 2:
            mu = mu + coeff[:, :, 1] * xn[:, 0:1] + coeff[:, :, 2] * xn[:, 1:2]
        mu_bins = (mu + 1.0) * 127.5
        scale = torch.exp(p[:, 2, :, channel].clamp(min=self.log_scale_min)) * 127.5
        return p[:, 0, :, channel], mu_bins, scale

    # -- codec interface (exported to TorchScript) --------------------------------------
    @torch.jit.export
    def extract(self, x: Tensor) -> list[Tensor]:
        """Latent symbols [z(1), ..., z(S)] of a uint8 image (1, 3, H, W), H, W % 8 == 0."""
        h = (x.to(torch.float32) - 127.5) / 127.5
        out: list[Tensor] = []
        for extractor in self.extractors:
            h, z = extractor(h)
            out.append(self.quantizer.symbols(z))
        return out

    @torch.jit.export
    def predict(self, scale: int, symbols: Tensor, coarser: Tensor | None) -> tuple[Tensor, Tensor]:
        """Run D(scale) on the symbols of z(scale); returns (features, raw parameters)."""
        z = self.quantizer.values(symbols)
        feat = z
        params = z
        for i, predictor in enumerate(self.predictors):
            if self.scales - i == scale:
                feat, params = predictor(z, coarser)
        return feat, params

    @torch.jit.export
    def latent_mixture(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Raw D output -> (logits, mean, scale), each (K, C*h*w), in bins."""
        logits, mu, scale = self._latent_mixture(params)
        k = self.mixtures
        return logits.reshape(k, -1), mu.reshape(k, -1), scale.reshape(k, -1)

    @torch.jit.export
    def rgb_mixture(self, params: Tensor, channel: int, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Raw D(1) output -> mixture of ``channel``, each (K, h*w), in bins.

        ``x`` is the uint8 image decoded so far (1, 3, H, W).
        """
        logits, mu, scale = self._rgb_mixture(params, channel, x.to(torch.float32))
        k = self.mixtures
        return logits.reshape(k, -1), mu.reshape(k, -1), scale.reshape(k, -1)


def mixture_nll_bits(
    target: Tensor, logits: Tensor, mu: Tensor, scale: Tensor, alphabet: int, floor: bool = True
) -> Tensor:
    """Bits of ``target`` (integer-valued, in bins) under a discretized logistic mixture.

    Dimension 1 of the parameters holds the K components.

    The outermost bins extend to infinity, as in the coder. With ``floor`` every
    symbol keeps at least 2^-16 of probability, as in the coder, so this is what a
    file costs; training uses ``floor=False``, whose gradient does not vanish for
    symbols the model has (wrongly) made improbable.
    The bin probability is computed in log space,
    log(sig(a) - sig(b)) = logsig(a) + logsig(-b) + log(1 - exp(b - a)),
    which keeps a gradient even where the difference underflows in float32: without
    it a confident, wrong prediction gets no gradient back and training blows up.
    """
    t = target.unsqueeze(1).to(mu.dtype)
    inv = 1.0 / scale
    a = (t + 0.5 - mu) * inv
    b = (t - 0.5 - mu) * inv
    top = t >= alphabet - 1
    bottom = t <= 0
    zero = torch.zeros_like(a)
    log_p = torch.where(top, zero, F.logsigmoid(a)) + torch.where(bottom, zero, F.logsigmoid(-b))
    width = torch.log((-torch.expm1(-inv.expand_as(a))).clamp(min=1e-30))
    log_p = log_p + torch.where(top | bottom, zero, width)
    log_mix = torch.logsumexp(F.log_softmax(logits, dim=1) + log_p, dim=1)
    if floor:
        least = torch.full_like(log_mix, math.log(2.0**-16))
        log_mix = torch.logaddexp(log_mix + math.log1p(-alphabet / 2.0**16), least)
    return -log_mix / math.log(2.0)
