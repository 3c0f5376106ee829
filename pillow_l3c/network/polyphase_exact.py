"""``ExactPolyphase``: the polyphase model in integers, as the codec runs it.

The rules are those of ``exact.py`` (``IntConv``: integer weights with one power-of-two
scale per output channel, activations in units of 2^-9 clamped to +-2047, every
partial sum below 2^24, checked by ``verify`` at export and at load). The inputs are
integer pixel values, so no floating-point value decides a CDF anywhere.

The codec drives it stage by stage (``pillow_l3c/tile_coders/polyphase.py``):
``features(stage, a, b, c, h, w)`` runs a stage's trunk for an h x w target grid, and
``mixture(stage, k, feat, s4, target)`` gives the coder's integers for the k-th coded
channel (ORDER[k]), reading the channels of ``target`` decoded before it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pillow_l3c.network import polyphase as pp
from pillow_l3c.network.exact import (
    ACT_BITS,
    INV_SCALE_UNIT,
    MAX_INV_SCALE,
    MEAN_UNIT,
    PARAM_BITS,
    SOFTMAX_ONE,
    SOFTMAX_RANGE,
    WEIGHT_TOTAL,
    IntConv,
    _table,
    integer_softmax,
)


class IntPointwise(IntConv):
    """A 1x1 ``IntConv`` on rows of (pixels, channels), as a matrix product whose input
    comes in parts (the features, the decoded channels) without concatenating them.

    Exact like any ``IntConv``: every partial sum of each product is bounded by the
    same sum |w| x 2047 + |bias| + rounding < 2^24 that ``verify`` checks, and the sum
    of the parts' integer results stays below it too."""

    def rows(self, parts: list[Tensor]) -> Tensor:
        dtype = parts[0].dtype
        w = self.weight.flatten(1).to(dtype)
        acc = (self.bias + self.rounding).to(dtype).unsqueeze(0)
        start = 0
        for part in parts:
            width = part.shape[1]
            if width > 0:
                acc = acc + part @ w[:, start : start + width].t()
            start += width
        scale = self.scale.flatten().to(dtype).unsqueeze(0)
        return (acc * scale).floor_().clamp_(-self.clamp, self.clamp)


class IntStage(nn.Module):
    """A stage's network (``polyphase.Stage``) on integers."""

    def __init__(self, stage: pp.Stage) -> None:
        super().__init__()
        lim = pp.ACT_LIMIT
        self.inp = IntConv(stage.inp, ACT_BITS, lim, lim)
        self.conv1 = nn.ModuleList([IntConv(b[0], ACT_BITS, lim, lim) for b in stage.blocks])
        self.conv2 = nn.ModuleList([IntConv(b[1], ACT_BITS, lim, lim) for b in stage.blocks])
        self.hidden = nn.ModuleList([IntPointwise(c, ACT_BITS, lim, lim) for c in stage.hidden])
        self.out = nn.ModuleList(
            [IntPointwise(c, ACT_BITS, lim, pp.PARAM_LIMIT, out_bits=PARAM_BITS) for c in stage.out]
        )
        self.limit = lim

    def features(self, inp: Tensor) -> Tensor:
        h = F.relu(self.inp(inp))
        for conv1, conv2 in zip(self.conv1, self.conv2, strict=False):
            h = (h + conv2(F.relu(conv1(h)))).clamp(-self.limit, self.limit)
        return h

    def params(self, k: int, feat: Tensor, cond: Tensor) -> Tensor:
        """Mixture parameters (pixels, 3K) from feature rows (pixels, C) and the rows of
        the channels decoded before channel k (pixels, k)."""
        out = feat
        for i, (hidden, last) in enumerate(zip(self.hidden, self.out, strict=False)):
            if i == k:
                hid = F.relu(hidden.rows([feat, cond]))
                out = last.rows([hid, cond])
        return out


class ExactPolyphase(nn.Module):
    """The codec interface of ``Polyphase`` in integers (exported to TorchScript)."""

    # The mean of four neighbours, s4 / 4 bins, in the coder's 1/256 bin (a constant:
    # TorchScript inlines it, and reads no module-level names).
    __constants__ = ("neighbour_mean_unit",)
    neighbour_mean_unit = MEAN_UNIT // 4

    def __init__(self, model: pp.Polyphase) -> None:
        super().__init__()
        cfg = model.cfg
        if cfg.colour != "rgb" or cfg.stages != 2:
            msg = (
                f"only two-stage rgb models are exported (docs/FORMAT.md), not "
                f"{cfg.stages} stages of {cfg.colour}: those are training ablations"
            )
            raise ValueError(msg)
        self.family = "polyphase"
        self.exact = True
        self.mixtures = cfg.mixtures
        self.min_side = pp.MIN_SIDE
        self.order = list(pp.ORDER)
        self.act_limit = pp.ACT_LIMIT
        self.mean_step = pp.MEAN_STEP
        self.weight_total = WEIGHT_TOTAL
        self.softmax_range = SOFTMAX_RANGE
        self.ls_min = round(pp.LOG_SCALE_MIN * pp.PARAM_UNIT)
        self.ls_max = round(pp.LOG_SCALE_MAX * pp.PARAM_UNIT)
        self.stages = nn.ModuleList([IntStage(s) for s in model.stages])
        self.register_buffer(
            "softmax_table",
            _table(
                [SOFTMAX_ONE * math.exp(-d / pp.PARAM_UNIT) for d in range(SOFTMAX_RANGE)],
                0,
                SOFTMAX_ONE,
            ),
        )
        self.register_buffer(
            "inv_scale_table",
            _table(
                [
                    INV_SCALE_UNIT / math.exp(i / pp.PARAM_UNIT)
                    for i in range(self.ls_min, self.ls_max + 1)
                ],
                1,
                MAX_INV_SCALE,
            ),
        )

    def _dtype(self, t: Tensor) -> torch.dtype:
        # float64 on CUDA, where cuDNN may pick TF32 or Winograd kernels in float32.
        return torch.float64 if t.is_cuda else torch.float32

    @torch.jit.export
    def features(
        self, stage: int, a: Tensor, b: Tensor, c: Tensor, h: int, w: int
    ) -> tuple[Tensor, Tensor]:
        """Trunk features (integers) of an h x w target grid and its neighbour sums.

        ``a``, ``b`` and ``c`` are int64 (1, 3, ., .) sub-images; stage 0 reads only
        ``a``, stage 1 ``a`` and ``b``; ``c`` is for a later stage (none is exported)."""
        nb = pp.diag_neighbours(a, h, w) if stage == 0 else pp.cross_neighbours(a, b, h, w)
        inp, s4 = pp.context(nb, self.act_limit)
        dtype = self._dtype(a)
        inp = inp.to(dtype).contiguous(memory_format=torch.channels_last)
        feat = inp
        for i, net in enumerate(self.stages):
            if i == stage:
                feat = net.features(inp)
        return feat, s4

    @torch.jit.export
    def mixture(
        self, stage: int, k: int, feat: Tensor, s4: Tensor, target: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """For channel ORDER[k]: the coder's (K, h*w) int32 weights and means (1/256
        bin), and the log-scales (units of 2^-8, before ``inv_scales``); ``target``
        (1, 3, h, w) int64 holds the channels ORDER[:k] already decoded."""
        cond = pp.conditioning(target, s4, k, self.order, self.act_limit).to(feat.dtype)
        n = feat.shape[2] * feat.shape[3]
        # Rows of (pixels, channels), row-major over the grid: a view of channels-last
        # features; the heads are 1x1 convolutions, i.e. matrix products on rows.
        rows = feat.permute(0, 2, 3, 1).reshape(n, feat.shape[1])
        cond_rows = cond.permute(0, 2, 3, 1).reshape(n, cond.shape[1])
        p = rows
        for i, net in enumerate(self.stages):
            if i == stage:
                p = net.params(k, rows, cond_rows)
        q = p.t().to(torch.int32).reshape(3, self.mixtures, n)
        ch = self.order[k]
        base = s4[0, ch].reshape(1, n).to(torch.int32) * self.neighbour_mean_unit
        mean = base + q[1] * self.mean_step
        weights = integer_softmax(q[0], self.softmax_table, self.weight_total, self.softmax_range)
        return weights.to(torch.int32), mean.to(torch.int32), q[2].contiguous()

    @torch.jit.export
    def inv_scales(self, log_scales: Tensor, offset: int) -> Tensor:
        """The coder's inverse scales (1/4096 per bin) of log-scales moved by ``offset``
        units of 2^-8: the encoder's per-stream adaptation (pillow_l3c/tile_coders/polyphase.py)."""
        ls = (log_scales + offset).clamp(self.ls_min, self.ls_max) - self.ls_min
        return self.inv_scale_table[ls].to(torch.int32)
