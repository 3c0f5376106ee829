"""Pyramid warm start: an untrained L3C that already codes images sensibly.

A randomly initialised L3C spends its first hours learning to put any information
into the latents at all; until then every pixel is predicted from nothing (about 6
bpsp, see the training notes in README). This initialisation starts the network as a
mean pyramid instead: E(s) writes the 2x2 block means of the colour planes into the
first three latent channels, and each D(s) predicts the finer scale as the nearest
coarser value with a moderate scale. Every residual branch starts at zero (identity),
so training only has to learn the refinements (interpolation, edges, texture), and all
other channels keep small random weights so that symmetry is broken.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pillow_l3c.network.architecture import L3C, Body, Predictor

COLOURS = 3
START_LOG_SCALE = math.log(0.05)  # a few intensity levels, in [-1, 1] units
# Colour coupling mu_G += a R, mu_B += b R + c G (sigmoid-gated). The residuals of
# the three planes around their block means are strongly correlated in photos, so the
# start predicts G from R's residual and B from R's and G's: a = 0.9, b = c = 0.45.
START_COUPLING = (0.9, 0.45, 0.45)


def _zero(module: nn.Conv2d) -> None:
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)


def _shrink(module: nn.Conv2d, factor: float = 0.01) -> None:
    with torch.no_grad():
        module.weight.mul_(factor)
        module.bias.zero_()


def _quiet_body(body: Body) -> None:
    _zero(body.tail)


@torch.no_grad()
def _extractors(model: L3C) -> None:
    for ex in model.extractors:
        _shrink(ex.head, 0.1)
        for c in range(COLOURS):
            ex.head.weight[c, :, :, :] = 0.0
            ex.head.weight[c, c, 2:4, 2:4] = 0.25  # the 2x2 block mean at stride 2
        _quiet_body(ex.body)
        _shrink(ex.to_latent)
        for c in range(COLOURS):
            ex.to_latent.weight[c, :, 0, 0] = 0.0
            ex.to_latent.weight[c, c, 0, 0] = 1.0


@torch.no_grad()
def _predictor(pred: Predictor, params: int, mixtures: int, channels: int, offset: int) -> None:
    """Make D predict channel c of the finer scale as channel c of its input.

    The coarser predictor's features arrive added onto channels 0..2; the latent is
    written to channels ``offset``.. so that the two do not sum.
    """
    _shrink(pred.head, 0.1)
    for c in range(COLOURS):
        pred.head.weight[offset + c, :, 0, 0] = 0.0
        pred.head.weight[offset + c, c, 0, 0] = 1.0
    _quiet_body(pred.body)
    up = pred.up[0]
    assert isinstance(up, nn.Conv2d)
    _shrink(up, 0.1)
    for c in range(COLOURS):
        for sub in range(4):  # PixelShuffle(2) reads channel 4c + sub for sub-position sub
            up.weight[4 * c + sub, :, :, :] = 0.0
            up.weight[4 * c + sub, offset + c, 1, 1] = 1.0
    for conv in (pred.prob.d1, pred.prob.d2, pred.prob.d4):
        _shrink(conv, 0.1)
    for c in range(COLOURS):
        pred.prob.d1.weight[c, :, :, :] = 0.0
        pred.prob.d1.weight[c, c, 1, 1] = 1.0
    out = pred.prob.out
    _shrink(out)
    # Output layout: (param, mixture, channel) with params (logit, mean, log-scale[, coupling]).
    for k in range(mixtures):
        for c in range(channels):
            mean = (1 * mixtures + k) * channels + c
            log_scale = (2 * mixtures + k) * channels + c
            if c < COLOURS:
                out.weight[mean, :, 0, 0] = 0.0
                out.weight[mean, c, 0, 0] = 1.0
            out.bias[log_scale] = START_LOG_SCALE
            if params == 4:
                gate = START_COUPLING[c]
                out.bias[(3 * mixtures + k) * channels + c] = math.log(gate / (1 - gate))
        if params == 4:
            # Subtract the coupled channels' block means, so that mu_G = G_mean + a (R - R_mean).
            a, b, c_ = START_COUPLING
            out.weight[(mixtures + k) * 3 + 1, 0, 0, 0] = -a
            out.weight[(mixtures + k) * 3 + 2, 0, 0, 0] = -b
            out.weight[(mixtures + k) * 3 + 2, 1, 0, 0] = -c_


def pyramid_init(model: L3C) -> L3C:
    """Initialise ``model`` in place as a mean pyramid (see module docstring)."""
    if model.latent_channels < COLOURS:
        msg = "the pyramid warm start needs at least 3 latent channels"
        raise ValueError(msg)
    _extractors(model)
    k = model.mixtures
    for i, pred in enumerate(model.predictors):
        rgb = i == len(model.predictors) - 1
        channels = COLOURS if rgb else model.latent_channels
        _predictor(pred, 4 if rgb else 3, k, channels, 0 if i == 0 else COLOURS)
    return model
