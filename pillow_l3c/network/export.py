"""Export a training checkpoint as the TorchScript file the codec loads.

    python -m pillow_l3c.network.export runs/x/best.pt weights/l3c-small.pt

The codec never imports this package's training code: the exported file alone
defines the model, and its SHA-256 (first 16 bytes) is the model id in every file.
"""

from __future__ import annotations

import argparse
import hashlib
import warnings
from pathlib import Path

import torch

from pillow_l3c.network.architecture import L3C, L3cConfig


def script(model: L3C) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # see _model.load
        return torch.jit.script(model.eval())


def export(model: L3C, out: Path) -> bytes:
    """Write ``model`` to ``out`` as TorchScript; returns its model id."""
    out.parent.mkdir(parents=True, exist_ok=True)
    scripted = script(model)
    scripted.save(str(out))
    return hashlib.sha256(out.read_bytes()).digest()[:16]


def load_checkpoint(path: Path) -> L3C:
    ck = torch.load(path, map_location="cpu")
    model = L3C(L3cConfig(**ck["config"]))
    model.load_state_dict(ck["model"])
    return model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m pillow_l3c.network.export", description=__doc__.split("\n")[0]
    )
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    args = p.parse_args(argv)
    model_id = export(load_checkpoint(args.checkpoint), args.out)
    print(f"wrote {args.out} (model id {model_id.hex()})")


if __name__ == "__main__":
    main()
