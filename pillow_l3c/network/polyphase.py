"""The polyphase model family: each scale coded from the pixels already decoded.

No learned latents. Scale s+1 is x_s[0::2, 0::2] of scale s, down to a coarsest image
of at most 8 pixels on its short side, stored as plain bytes. Each finer scale then
adds its three other polyphase sub-images in two parallel stages (after LC-FDNet,
Rhee et al. 2022):

- stage 0 (``diag``): b = x[1::2, 1::2], each pixel between four pixels of a;
- stage 1 (``cross``): c = x[0::2, 1::2] and d = x[1::2, 0::2], each between two
  pixels of a and two of b. d is c of the transposed image, so one network codes
  both, in two passes.

Each stage is one network pass over the target grid (half the scale's resolution):
decoding is three trunk passes per scale (b, c, d), never one per pixel. The network sees, for every
target pixel, its four known neighbours relative to their mean, and predicts a
discretized logistic mixture around that mean (so that step 0 is already a working
codec: a mean-of-neighbours predictor). Colour is coded G, then R given G, then B
given G and R: a small per-channel head reads the trunk's features and the already
decoded channels of the same pixel. Measured against L3C's linear RGB coupling and
against YCoCg-R in docs/TRAINING.md.

Everything a CDF depends on is computed in integers by ``ExactPolyphase`` (the same
rules as ``exact.py``: activations in units of 2^-9, integer convolutions with
power-of-two scales and partial sums below 2^24), so that files decode identically on
every machine. The float ``Polyphase`` trains; every quantity it feeds the network is
an exact multiple of 2^-9, so the integer model sees the same inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pillow_l3c._constants import ACT_BITS, PARAM_BITS
from pillow_l3c._constants import ACT_LIMIT as ACT_LIMIT
from pillow_l3c._constants import PARAM_LIMIT as PARAM_LIMIT
from pillow_l3c.network.architecture import mixture_nll_bits
from pillow_l3c.tile_coders.polyphase import MIN_SIDE as MIN_SIDE  # the codec's, one definition
from pillow_l3c.tile_coders.polyphase import scale_count

ORDER = (1, 0, 2)  # G first, then R given G, then B given G and R
ACT_UNIT = 1 << ACT_BITS  # activations are multiples of 2^-9, clamped to +-ACT_LIMIT units
PARAM_UNIT = 1 << PARAM_BITS  # mixture parameters are multiples of 2^-8
MEAN_STEP = 8  # bins per unit of the mean-residual output
LOG_SCALE_MIN, LOG_SCALE_MAX = -3.0, 6.0  # log of the scale in bins


@dataclass(frozen=True)
class PolyphaseConfig:
    channels: int = 32
    blocks: int = 1
    head: int = 16
    mixtures: int = 4
    # "rgb": G, R given G, B given G and R (bundled). Training-only ablations, measured
    # in docs/TRAINING.md: "rgb-independent" (no channel sees another of its pixel) and
    # "ycocg" (YCoCg-R planes, Y first, then Co and Cg, each conditioned as in "rgb").
    colour: str = "rgb"
    # 2: c and d in one stage (d as c of the transposed image), bundled; 3: a training
    # ablation, d in a third stage that also sees its four diagonal neighbours in c
    # (no gain measured, docs/TRAINING.md; the codec codes two stages only).
    stages: int = 2

    def to_dict(self) -> dict[str, int | str]:
        return asdict(self)


def pyramid(x: Tensor) -> list[Tensor]:
    """[x_0, x_1, ..., x_S]: each scale the even rows and columns of the one before."""
    out = [x]
    for _ in range(scale_count(x.shape[-2], x.shape[-1])):
        out.append(out[-1][..., 0::2, 0::2])
    return out


def _take(t: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    return t.index_select(-2, rows).index_select(-1, cols)


def diag_neighbours(a: Tensor, h: int, w: int) -> list[Tensor]:
    """For the h x w grid of b = x[1::2, 1::2]: its four neighbours in a = x[0::2, 0::2]
    (indices clamped at the far edges, where a pixel lacks a neighbour)."""
    r = torch.arange(h, device=a.device)
    c = torch.arange(w, device=a.device)
    r1 = (r + 1).clamp(max=a.shape[-2] - 1)
    c1 = (c + 1).clamp(max=a.shape[-1] - 1)
    return [_take(a, r, c), _take(a, r, c1), _take(a, r1, c), _take(a, r1, c1)]


def cross_neighbours(a: Tensor, b: Tensor, h: int, w: int) -> list[Tensor]:
    """For the h x w grid of c = x[0::2, 1::2]: left and right in a, up and down in b."""
    r = torch.arange(h, device=a.device)
    c = torch.arange(w, device=a.device)
    c1 = (c + 1).clamp(max=a.shape[-1] - 1)
    up = (r - 1).clamp(min=0, max=b.shape[-2] - 1)
    down = r.clamp(max=b.shape[-2] - 1)
    return [_take(a, r, c), _take(a, r, c1), _take(b, up, c), _take(b, down, c)]


def third_neighbours(a: Tensor, b: Tensor, c: Tensor, h: int, w: int) -> list[Tensor]:
    """For the h x w grid of d = x[1::2, 0::2]: up and down in a, left and right in b
    (the four that predict it), then its four diagonal neighbours in c."""
    r = torch.arange(h, device=a.device)
    col = torch.arange(w, device=a.device)
    r1 = (r + 1).clamp(max=a.shape[-2] - 1)
    left = (col - 1).clamp(min=0, max=b.shape[-1] - 1)
    right = col.clamp(max=b.shape[-1] - 1)
    c_left = (col - 1).clamp(min=0, max=c.shape[-1] - 1)
    c_right = col.clamp(max=c.shape[-1] - 1)
    c_down = (r + 1).clamp(max=c.shape[-2] - 1)
    return [
        _take(a, r, col),
        _take(a, r1, col),
        _take(b, r, left),
        _take(b, r, right),
        _take(c, r, c_left),
        _take(c, r, c_right),
        _take(c, c_down, c_left),
        _take(c, c_down, c_right),
    ]


def context(neighbours: list[Tensor], limit: int = ACT_LIMIT) -> tuple[Tensor, Tensor]:
    """Network input in units of 2^-9 (integers) and the sum of the first four
    neighbours (those around the pixel, whose mean is its prediction at step 0).

    Input channels: each neighbour's offset from that mean, (n - mean) / 32, then the
    mean itself, mean / 64 - 2; each clamped to +-2047 units."""
    s4 = neighbours[0] + neighbours[1] + neighbours[2] + neighbours[3]
    parts = [(4 * n - s4) * 4 for n in neighbours] + [2 * s4 - 1024]
    return torch.cat(parts, dim=1).clamp(-limit, limit), s4


def conditioning(
    target: Tensor, s4: Tensor, k: int, order: list[int], limit: int = ACT_LIMIT
) -> Tensor:
    """The channels coded before ORDER[k] at each pixel, as offsets from their
    neighbours' mean in units of 2^-9 (/ 32 as real values)."""
    parts = [(4 * target[:, j : j + 1] - s4[:, j : j + 1]) * 4 for j in order[:k]]
    if len(parts) == 0:
        return target[:, :0]
    return torch.cat(parts, dim=1).clamp(-limit, limit)


def ycocg_r(x: Tensor) -> Tensor:
    """RGB (N, 3, H, W) -> (Co + 255, Y, Cg + 255) by the reversible YCoCg-R lifting, in
    the channel positions that ORDER codes Y first."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    co = r - b
    t = b + torch.div(co, 2, rounding_mode="floor")
    cg = g - t
    y = t + torch.div(cg, 2, rounding_mode="floor")
    return torch.cat([co + 255, y, cg + 255], dim=1)


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class Stage(nn.Module):
    """One stage's network: a small residual CNN on the target grid, then one head
    per colour channel that also reads the channels decoded before it."""

    def __init__(self, cfg: PolyphaseConfig, neighbours: int = 4) -> None:
        super().__init__()
        c = cfg.channels
        self.inp = _conv(3 * neighbours + 3, c, 3)
        self.blocks = nn.ModuleList(
            [nn.ModuleList([_conv(c, c, 3), _conv(c, c, 3)]) for _ in range(cfg.blocks)]
        )
        self.hidden = nn.ModuleList([_conv(c + k, cfg.head, 1) for k in range(3)])
        self.out = nn.ModuleList([_conv(cfg.head + k, 3 * cfg.mixtures, 1) for k in range(3)])
        # Step 0 predicts the neighbours' mean with a moderate scale.
        for out in self.out:
            nn.init.zeros_(out.weight)
            nn.init.zeros_(out.bias)
            with torch.no_grad():
                out.bias[2 * cfg.mixtures :] = 1.5
                out.bias[: cfg.mixtures] = torch.linspace(0.0, -1.0, cfg.mixtures)
        for block in self.blocks:
            nn.init.zeros_(block[1].weight)
            nn.init.zeros_(block[1].bias)


def _act(x: Tensor) -> Tensor:
    return x.clamp(-ACT_LIMIT / ACT_UNIT, ACT_LIMIT / ACT_UNIT)


class Polyphase(nn.Module):
    """The float model, for training: ``forward`` returns the bits of each image."""

    def __init__(self, cfg: PolyphaseConfig) -> None:
        super().__init__()
        self.cfg = cfg
        stages = [Stage(cfg), Stage(cfg)] + ([Stage(cfg, 8)] if cfg.stages == 3 else [])
        self.stages = nn.ModuleList(stages)

    def features(self, stage: int, inp: Tensor) -> Tensor:
        net = self.stages[stage]
        h = _act(F.relu(net.inp(inp / ACT_UNIT)))
        for conv1, conv2 in net.blocks:
            h = _act(h + conv2(F.relu(conv1(h))))
        return h

    def params(self, stage: int, k: int, feat: Tensor, cond: Tensor) -> Tensor:
        net = self.stages[stage]
        c = cond / ACT_UNIT
        hid = _act(F.relu(net.hidden[k](torch.cat([feat, c], dim=1))))
        out = net.out[k](torch.cat([hid, c], dim=1))
        return out.clamp(-PARAM_LIMIT / PARAM_UNIT, PARAM_LIMIT / PARAM_UNIT)

    def stage_bits(self, stage: int, neighbours: list[Tensor], target: Tensor) -> Tensor:
        """Bits of ``target`` (N, 3, h, w) given its neighbours, summed per image."""
        inp, s4 = context(neighbours)
        feat = self.features(stage, inp)
        k_ = self.cfg.mixtures
        alphabet = 511 if self.cfg.colour == "ycocg" else 256
        bits = torch.zeros(target.shape[0], device=target.device)
        for k, ch in enumerate(ORDER):
            cond = conditioning(target, s4, k, list(ORDER))
            if self.cfg.colour == "rgb-independent":
                cond = cond * 0
            p = self.params(stage, k, feat, cond)
            logits, r, ls = p[:, :k_], p[:, k_ : 2 * k_], p[:, 2 * k_ :]
            mean = s4[:, ch : ch + 1] / 4 + MEAN_STEP * r
            scale = torch.exp(ls.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX))
            b = mixture_nll_bits(
                target[:, ch], logits, mean, scale, alphabet, floor=not self.training
            )
            bits = bits + b.flatten(1).sum(1)
        return bits

    def forward(self, x: Tensor) -> Tensor:
        """Bits of each image of a batch (N, 3, H, W) of pixel values, the coarsest
        scale at 8 bits per sub-pixel."""
        if self.cfg.colour == "ycocg":
            x = ycocg_r(x)
        scales = pyramid(x)
        bits = torch.full((x.shape[0],), 8.0 * scales[-1][0].numel(), device=x.device)
        for s in range(len(scales) - 1):
            xs = scales[s]
            a, b = scales[s + 1], xs[..., 1::2, 1::2]
            bits = bits + self.stage_bits(0, diag_neighbours(a, b.shape[-2], b.shape[-1]), b)
            c = xs[..., 0::2, 1::2]
            bits = bits + self.stage_bits(1, cross_neighbours(a, b, c.shape[-2], c.shape[-1]), c)
            d = xs[..., 1::2, 0::2]
            if self.cfg.stages == 3:
                nb = third_neighbours(a, b, c, d.shape[-2], d.shape[-1])
                bits = bits + self.stage_bits(2, nb, d)
            else:
                at, bt, dt = a.transpose(-1, -2), b.transpose(-1, -2), d.transpose(-1, -2)
                nb = cross_neighbours(at, bt, dt.shape[-2], dt.shape[-1])
                bits = bits + self.stage_bits(1, nb, dt)
        return bits
