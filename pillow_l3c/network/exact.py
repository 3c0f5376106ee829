"""Integer-exact predictors: the same CDFs from the same file on every machine.

Arithmetic decoding breaks at the first CDF entry that differs by one unit, and
floating-point convolutions differ in their last bits between kernels, thread counts
and devices. So everything that decides a CDF the decoder sees (the predictors D(s),
their probability heads and the mixture-to-integer step) is computed on integers
(after Ballé, Johnston and Minnen, "Integer networks for data compression with
latent-variable models", ICLR 2019); the extractors E(s) stay floating point, since
their quantized output is what the file carries.

- Activations are integers in units of 2^-9, clamped to +-2047 (about +-4.0). The
  latent input of D(s) is the integer symbol minus its centre (+-12).
- A convolution has integer weights and biases, one power-of-two weight scale per
  output channel. It runs as an ordinary float convolution on integer values, which
  is exact in any summation order while every partial sum stays below 2^24 (float32,
  the CPU) or 2^53 (float64, used on CUDA): the scale of each channel is chosen so
  that sum |w| * max |input| + |bias| + rounding term < 2^24, and ``verify`` checks it
  from the stored weights at export and again when the codec loads the model.
- Rescaling to the next layer's units is a multiplication by a power of two and a
  floor, both exact; ReLU, clamps, sums, concatenation and pixel shuffle are exact.
- The mixture parameters leave D as integers in units of 2^-8 and become the coder's
  integers through integer tables stored in the model (softmax weights, sigmoid
  colour coupling, inverse scales) and int32 arithmetic whose every value is bounded
  far below 2^31: no exp, no division of floats.

Training sees the same quantization through ``qat_predict`` (straight-through
rounding), so that a model can be fine-tuned for the integer arithmetic, and
``ExactL3C.from_float`` turns a trained model into the integer one that is exported.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pillow_l3c._constants import (
    ACT_BITS,
    ACT_LIMIT,
    INV_SCALE_FRACTION_BITS,
    MAX_ABS_MEAN,
    MAX_CONV_WEIGHT_BITS,
    MAX_INV_SCALE,
    MEAN_FRACTION_BITS,
    PARAM_BITS,
    PARAM_LIMIT,
    SOFTMAX_BITS,
    SOFTMAX_RANGE,
    WEIGHT_BITS,
)
from pillow_l3c._verify import EXACT_LIMIT, verify
from pillow_l3c.network.architecture import (
    L3C,
    LOG_SCALE_MIN,
    Body,
    Predictor,
)

# The grids and bounds are the format's (pillow_l3c/_constants.py); these are units.
ACT_UNIT = 1 << ACT_BITS  # activations are integers in units of 2^-9
PARAM_UNIT = 1 << PARAM_BITS  # mixture parameters in units of 2^-8
MAX_WEIGHT_BITS = MAX_CONV_WEIGHT_BITS
WEIGHT_TOTAL = 1 << WEIGHT_BITS  # the coder's mixture weights sum to this
INV_SCALE_UNIT = 1 << INV_SCALE_FRACTION_BITS  # the coder's inverse scales: 1/4096 per bin
MEAN_UNIT = 1 << MEAN_FRACTION_BITS  # the coder's means: 1/256 bin
SOFTMAX_ONE = 1 << SOFTMAX_BITS  # the softmax's exp table holds SOFTMAX_ONE * exp(-d)
LOG_SCALE_MAX = 10.0  # scales above e^10 bins are all "flat" (inverse scale 1)
COUPLING_RANGE = 16  # colour couplings saturate beyond +-16 (log-odds)
# A colour mean is summed over one denominator, 32 units of 1/256 bin: the coupling
# (1/4096) times twice the centred pixel (2 x - 255) is a multiple of 1/32 of a mean unit.
RGB_DENOMINATOR = 2 * WEIGHT_TOTAL // MEAN_UNIT
__all__ = ["EXACT_LIMIT", "ExactL3C", "IntConv", "qat_predict", "verify"]


# --- quantization rules, shared by training and export --------------------------------


def weight_bits(
    weight: Tensor, bias: Tensor | None, in_bits: int, in_limit: int, out_bits: int = ACT_BITS
) -> Tensor:
    """Per output channel, the most fractional bits for the weights (at most 16) that
    keep every partial sum of the integer convolution below 2^24."""
    w = weight.detach().abs().flatten(1).sum(1).double()
    b = bias.detach().abs().double() if bias is not None else torch.zeros_like(w)
    out = []
    for wc, bc in zip(w.tolist(), b.tolist(), strict=True):
        bits = MAX_WEIGHT_BITS
        taps = weight[0].numel()
        while bits > -8 and _bound(wc, bc, taps, bits, in_bits, in_limit, out_bits) >= EXACT_LIMIT:
            bits -= 1
        out.append(bits)
    return torch.tensor(out, dtype=torch.float64)


def _bound(
    w_abs: float, b_abs: float, taps: int, bits: int, in_bits: int, in_limit: int, out_bits: int
) -> float:
    """Largest partial sum: sum |w| after rounding (+1/2 per tap), times the largest
    input, plus the rounded bias and the rounding term of the rescale."""
    shift = in_bits + bits - out_bits
    half = 2.0 ** (shift - 1) if shift >= 1 else 0.0
    return (w_abs * 2.0**bits + taps / 2) * in_limit + b_abs * 2.0 ** (in_bits + bits) + 1 + half


def _ste_round(x: Tensor) -> Tensor:
    return x + (torch.round(x) - x).detach()


def quantize_activation(x: Tensor) -> Tensor:
    """Training's image of the integer activations: the 2^-9 grid, clamped, with the
    gradient passing the rounding but not the clamp."""
    limit = ACT_LIMIT / ACT_UNIT
    xc = x.clamp(-limit, limit)
    return xc + (torch.round(xc * ACT_UNIT) / ACT_UNIT - xc).detach()


def _q_conv(
    conv: nn.Conv2d,
    x: Tensor,
    in_bits: int,
    in_limit: int,
    scale_in: float = 1.0,
    out_bits: int = ACT_BITS,
) -> Tensor:
    """A convolution with its weights on the grid ``ExactL3C`` will store. ``scale_in``
    folds a constant input scale into the weights (the latent input, below)."""
    weight = conv.weight * scale_in
    bits = weight_bits(weight, conv.bias, in_bits, in_limit, out_bits).to(x.device, x.dtype)
    wscale = (2.0**bits).view(-1, 1, 1, 1)
    bscale = 2.0 ** (bits + in_bits)
    w = _ste_round(weight * wscale) / wscale
    b = _ste_round(conv.bias * bscale) / bscale
    return F.conv2d(x, w, b, conv.stride, conv.padding, conv.dilation)


def _q_body(body: Body, x: Tensor) -> Tensor:
    h = x
    for block in body.blocks:
        t = F.relu(quantize_activation(_q_conv(block.conv1, h, ACT_BITS, ACT_LIMIT)))
        t = quantize_activation(_q_conv(block.conv2, t, ACT_BITS, ACT_LIMIT))
        h = quantize_activation(h + t)
    t = quantize_activation(_q_conv(body.tail, h, ACT_BITS, ACT_LIMIT))
    return quantize_activation(x + t)


def qat_predict(
    predictor: Predictor, z: Tensor, coarser: Tensor | None, centre: float
) -> tuple[Tensor, Tensor]:
    """D(s) as ``IntPredictor`` computes it, in real units, for training: ``z`` is the
    latent in [-1, 1] (straight-through quantized), ``centre`` = (L - 1) / 2."""
    u = z * centre  # the integer symbol minus its centre
    h = quantize_activation(_q_conv(predictor.head, u, 0, int(centre), 1.0 / centre))
    if coarser is not None:
        h = quantize_activation(h + coarser)
    up = predictor.up[0]
    feat = F.pixel_shuffle(
        quantize_activation(_q_conv(up, _q_body(predictor.body, h), ACT_BITS, ACT_LIMIT)), 2
    )
    head = predictor.prob
    branches = [
        quantize_activation(_q_conv(c, feat, ACT_BITS, ACT_LIMIT))
        for c in (head.d1, head.d2, head.d4)
    ]
    params = _q_conv(head.out, torch.cat(branches, dim=1), ACT_BITS, ACT_LIMIT, out_bits=PARAM_BITS)
    limit = PARAM_LIMIT / PARAM_UNIT
    pc = params.clamp(-limit, limit)
    return feat, pc + (torch.round(pc * PARAM_UNIT) / PARAM_UNIT - pc).detach()


# --- the integer model ------------------------------------------------------------------


class IntConv(nn.Module):
    """Integer convolution: y = floor((conv(x, w) + b + rounding) * 2^-shift), per channel.

    ``x`` holds integers (as floats); so do ``weight`` and ``bias``, and ``scale`` holds
    powers of two, so every step is exact (see the module docstring)."""

    def __init__(
        self,
        conv: nn.Conv2d,
        in_bits: int,
        in_limit: int,
        clamp: int,
        scale_in: float = 1.0,
        out_bits: int = ACT_BITS,
    ) -> None:
        super().__init__()
        weight = conv.weight.detach().double() * scale_in
        bias = conv.bias.detach().double()  # rounding + bias < 2^24: exact in float32
        bits = weight_bits(weight, bias, in_bits, in_limit, out_bits)
        shift = in_bits + bits - out_bits
        self.register_buffer("weight", torch.round(weight * (2.0**bits).view(-1, 1, 1, 1)).float())
        self.register_buffer("bias", torch.round(bias * 2.0 ** (bits + in_bits)).float())
        half = torch.where(shift >= 1, 2.0 ** (shift - 1), torch.zeros_like(shift))
        self.register_buffer("rounding", half.float())
        self.register_buffer("scale", (2.0 ** (-shift)).float().view(1, -1, 1, 1))
        self.stride = conv.stride
        self.padding = conv.padding
        self.dilation = conv.dilation
        self.in_limit = int(in_limit)
        self.clamp = int(clamp)

    def forward(self, x: Tensor) -> Tensor:
        # The bias and the rounding term ride in the convolution's own bias: still one
        # exact integer sum. Then the rescale, floor and clamp in place.
        w = self.weight.to(x.dtype)
        offset = (self.bias + self.rounding).to(x.dtype)
        acc = F.conv2d(x, w, offset, self.stride, self.padding, self.dilation)
        return acc.mul_(self.scale.to(x.dtype)).floor_().clamp_(-self.clamp, self.clamp)


class IntResBlock(nn.Module):
    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.conv1 = IntConv(block.conv1, ACT_BITS, ACT_LIMIT, ACT_LIMIT)
        self.conv2 = IntConv(block.conv2, ACT_BITS, ACT_LIMIT, ACT_LIMIT)
        self.limit = ACT_LIMIT  # TorchScript reads no module-level names

    def forward(self, x: Tensor) -> Tensor:
        return (x + self.conv2(F.relu(self.conv1(x)))).clamp(-self.limit, self.limit)


class IntPredictor(nn.Module):
    """``Predictor`` on integers: the latent symbols minus their centre in, integer
    features (units of 2^-9) and mixture parameters (units of 2^-8) out."""

    def __init__(self, predictor: Predictor, centre: int) -> None:
        super().__init__()
        self.head = IntConv(predictor.head, 0, centre, ACT_LIMIT, 1.0 / centre)
        self.blocks = nn.ModuleList([IntResBlock(b) for b in predictor.body.blocks])
        self.tail = IntConv(predictor.body.tail, ACT_BITS, ACT_LIMIT, ACT_LIMIT)
        self.up = IntConv(predictor.up[0], ACT_BITS, ACT_LIMIT, ACT_LIMIT)
        head = predictor.prob
        self.d1 = IntConv(head.d1, ACT_BITS, ACT_LIMIT, ACT_LIMIT)
        self.d2 = IntConv(head.d2, ACT_BITS, ACT_LIMIT, ACT_LIMIT)
        self.d4 = IntConv(head.d4, ACT_BITS, ACT_LIMIT, ACT_LIMIT)
        self.out = IntConv(head.out, ACT_BITS, ACT_LIMIT, PARAM_LIMIT, out_bits=PARAM_BITS)
        self.limit = ACT_LIMIT

    def forward(self, u: Tensor, coarser: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.head(u)
        if coarser is not None:
            h = (h + coarser).clamp(-self.limit, self.limit)
        x = h
        for block in self.blocks:
            x = block(x)
        x = (h + self.tail(x)).clamp(-self.limit, self.limit)
        feat = F.pixel_shuffle(self.up(x), 2)
        branches = torch.cat([self.d1(feat), self.d2(feat), self.d4(feat)], dim=1)
        return feat, self.out(branches)


def integer_softmax(logits: Tensor, table: Tensor, total: int, limit: int) -> Tensor:
    """Softmax over dim 0 in integers: ``table`` of exp for logit differences below
    ``limit``, integer division, the remainder to the first component, so that the
    weights sum to exactly ``total`` (shared by both model families)."""
    d = (logits.max(dim=0, keepdim=True)[0] - logits).clamp(max=limit - 1)
    e = table[d]
    w = torch.div(e * total, e.sum(dim=0, keepdim=True), rounding_mode="floor")
    w[0] += total - w.sum(dim=0)
    return w


def _table(values: list[float], low: int, high: int) -> Tensor:
    return torch.tensor([min(max(round(v), low), high) for v in values], dtype=torch.int32)


class ExactL3C(nn.Module):
    """The codec interface of ``L3C`` with integer predictors (exported to TorchScript).

    ``latent_mixture`` and ``rgb_mixture`` return the coder's integers directly:
    weights summing to 4096, means in 1/256 bin, inverse scales in 1/4096 per bin,
    each (K, N) int32.
    """

    # TorchScript reads no module-level names; constants (``__constants__``) it
    # inlines as literals, so the compiled code is what the literals gave.
    __constants__ = ("mean_unit", "max_abs_mean", "rgb_denominator", "rgb_rounding", "rgb_centre")
    mean_unit = MEAN_UNIT
    max_abs_mean = MAX_ABS_MEAN
    rgb_denominator = RGB_DENOMINATOR
    rgb_rounding = RGB_DENOMINATOR // 2
    rgb_centre = 255 * MEAN_UNIT * RGB_DENOMINATOR // 2  # 127.5 bins

    def __init__(self, model: L3C) -> None:
        super().__init__()
        cfg = model.cfg
        if cfg.levels % 2 != 1:
            msg = "an exact model needs an odd number of latent levels"
            raise ValueError(msg)
        # What the loader requires of every model (pillow_l3c/_model.py, load).
        self.family = "l3c"
        self.exact = True
        self.scales = cfg.scales
        self.mixtures = cfg.mixtures
        self.latent_channels = cfg.latent_channels
        self.levels = cfg.levels
        self.centre = (cfg.levels - 1) // 2
        self.param_unit = PARAM_UNIT  # TorchScript reads no module-level names
        self.weight_total = WEIGHT_TOTAL
        self.softmax_range = SOFTMAX_RANGE
        # 127.5 * 256 * 32 / 2^P
        self.rgb_mean_factor = 255 * MEAN_UNIT * RGB_DENOMINATOR // (2 * PARAM_UNIT)
        self.extractors = model.extractors
        self.predictors = nn.ModuleList([IntPredictor(p, self.centre) for p in model.predictors])
        # Log-scales are clamped at the float model's floors, rounded up to the grid.
        self.latent_ls_min = math.ceil(model.latent_log_scale_min * PARAM_UNIT)
        self.rgb_ls_min = math.ceil(LOG_SCALE_MIN * PARAM_UNIT)
        self.ls_max = int(LOG_SCALE_MAX * PARAM_UNIT)
        self.register_buffer("softmax_table", self._softmax_table())
        self.register_buffer(
            "latent_inv_scale", self._inv_scale_table(self.latent_ls_min, float(self.centre))
        )
        self.register_buffer("rgb_inv_scale", self._inv_scale_table(self.rgb_ls_min, 127.5))
        self.coupling_limit = COUPLING_RANGE * PARAM_UNIT
        self.register_buffer(
            "coupling_table",
            _table(
                [
                    WEIGHT_TOTAL / (1.0 + math.exp(-i / PARAM_UNIT))
                    for i in range(-self.coupling_limit, self.coupling_limit + 1)
                ],
                0,
                WEIGHT_TOTAL,
            ),
        )

    @staticmethod
    def _softmax_table() -> Tensor:
        return _table(
            [SOFTMAX_ONE * math.exp(-d / PARAM_UNIT) for d in range(SOFTMAX_RANGE)], 0, SOFTMAX_ONE
        )

    def _inv_scale_table(self, low: int, half: float) -> Tensor:
        return _table(
            [
                INV_SCALE_UNIT / (math.exp(i / PARAM_UNIT) * half)
                for i in range(low, self.ls_max + 1)
            ],
            1,
            MAX_INV_SCALE,
        )

    @torch.jit.export
    def extract(self, x: Tensor) -> list[Tensor]:
        """Latent symbols [z(1), ..., z(S)] of a uint8 image (1, 3, H, W), H, W % 8 == 0
        (floating point: the symbols are what the file stores)."""
        h = (x.to(torch.float32) - 127.5) / 127.5
        half = (self.levels - 1) / 2.0
        out: list[Tensor] = []
        for extractor in self.extractors:
            h, z = extractor(h)
            out.append(torch.round((z.clamp(-1.0, 1.0) + 1.0) * half).to(torch.int64))
        return out

    @torch.jit.export
    def predict(self, scale: int, symbols: Tensor, coarser: Tensor | None) -> tuple[Tensor, Tensor]:
        """D(scale) on the symbols of z(scale): integer features and parameters.

        float32 on the CPU, float64 on CUDA (cuDNN may pick TF32 or Winograd kernels
        in float32); the values are the same integers either way."""
        dtype = torch.float64 if symbols.is_cuda else torch.float32
        # Channels-last spares oneDNN a reorder around every convolution (measured:
        # D(1..3) of a 512 x 512 tile 0.84 s -> 0.67 s on one core); the integers are
        # the same in any layout.
        u = (symbols - self.centre).to(dtype).contiguous(memory_format=torch.channels_last)
        if coarser is not None:
            coarser = coarser.to(dtype)
        feat = u
        params = u
        for i, predictor in enumerate(self.predictors):
            if self.scales - i == scale:
                feat, params = predictor(u, coarser)
        return feat, params.contiguous()

    def _weights(self, logits: Tensor) -> Tensor:
        return integer_softmax(logits, self.softmax_table, self.weight_total, self.softmax_range)

    @torch.jit.export
    def latent_mixture(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Integer parameters of z(s-1): (K, C*h*w) int32 each."""
        _, _, hh, ww = params.shape
        p = params.to(torch.int32).view(3, self.mixtures, self.latent_channels * hh * ww)
        # (m / 2^P + 1) * centre bins, in 1/256 bin, rounded half up
        num = self.centre * (p[1] + self.param_unit) * self.mean_unit + self.param_unit // 2
        mean = torch.div(num, self.param_unit, rounding_mode="floor")
        ls = p[2].clamp(self.latent_ls_min, self.ls_max) - self.latent_ls_min
        inv = self.latent_inv_scale[ls]
        return (
            self._weights(p[0]).to(torch.int32),
            mean.clamp(-self.max_abs_mean, self.max_abs_mean).to(torch.int32),
            inv.to(torch.int32),
        )

    @torch.jit.export
    def rgb_mixture(self, params: Tensor, channel: int, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Integer parameters of one colour channel, coupled to the channels before it;
        ``x`` is the uint8 image decoded so far (1, 3, H, W). (K, H*W) int32 each.

        mean (1/256 bin) = 127.5 * 256 m / 2^P + 32640 + sum_j c_j (x_j - 127.5) / 16,
        with m the mean parameter, P = PARAM_BITS and c_j the coupling in 1/4096, all over
        one denominator 32 and rounded half up."""
        _, _, hh, ww = params.shape
        p = params.view(4, self.mixtures, 3, hh * ww)  # converted slice by slice: 1/3 the work
        xs = x.to(torch.int32).view(3, hh * ww)
        num = (
            self.rgb_mean_factor * p[1, :, channel].to(torch.int32)
            + self.rgb_centre
            + self.rgb_rounding
        )
        if channel > 0:
            c = p[3].to(torch.int32).clamp(-self.coupling_limit, self.coupling_limit)
            c = c + self.coupling_limit
            num = num + self.coupling_table[c[:, channel - 1]] * (2 * xs[0] - 255)
            if channel > 1:
                num = num + self.coupling_table[c[:, 2]] * (2 * xs[1] - 255)
        mean = torch.div(num, self.rgb_denominator, rounding_mode="floor")
        ls = p[2, :, channel].to(torch.int32).clamp(self.rgb_ls_min, self.ls_max)
        ls = ls - self.rgb_ls_min
        return (
            self._weights(p[0, :, channel].to(torch.int32)).to(torch.int32),
            mean.clamp(-self.max_abs_mean, self.max_abs_mean).to(torch.int32),
            self.rgb_inv_scale[ls].to(torch.int32),
        )
