"""The static exactness check of a loaded model, for the runtime.

Kept apart from ``network/exact.py`` so that loading a model imports no training code:
the check reads only the stored integer convolutions (anything with ``in_limit`` and
``scale``), whatever family the model is.
"""

from __future__ import annotations

from typing import Any

from pillow_l3c._constants import EXACT_LIMIT

__all__ = ["EXACT_LIMIT", "verify"]


def verify(module: Any) -> list[str]:
    """Every integer convolution of ``module`` (a model or its TorchScript file), checked
    from its stored weights: integer values, power-of-two scales, and no partial sum
    that can reach 2^24. Returns the problems; empty means exact."""
    import torch

    problems = []
    count = 0
    for name, m in module.named_modules():
        if not hasattr(m, "in_limit") or not hasattr(m, "scale"):
            continue
        count += 1
        w, b = m.weight.double(), m.bias.double()
        half, scale = m.rounding.double(), m.scale.double()
        if not (torch.equal(w, w.round()) and torch.equal(b, b.round())):
            problems.append(f"{name}: weights or biases are not integers")
        mantissa, _ = torch.frexp(scale)
        if not torch.all(mantissa == 0.5):
            problems.append(f"{name}: scales are not powers of two")
        bound = w.abs().flatten(1).sum(1) * m.in_limit + b.abs() + half + 1
        if float(bound.max()) >= EXACT_LIMIT:
            problems.append(f"{name}: a partial sum can reach {float(bound.max()):.0f} >= 2^24")
    if count == 0:
        problems.append("no integer convolutions: not an exact model")
    return problems
