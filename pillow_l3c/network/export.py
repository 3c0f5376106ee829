"""Export a training checkpoint as the TorchScript file the codec loads.

    python -m pillow_l3c.network.export runs/x/last.pt weights/tmp.pt [--name NAME] [--float]

By default the export is integer-exact (network/exact.py): the predictors' weights
become integers, and the export refuses a model whose integer arithmetic could leave
the exact range or uses an operation off the loader's whitelist (the codec's loader
checks the same again). ``--float`` exports the floating-point model, whose files
decode only where they were written.

The codec never imports this package's training code: the exported file alone
defines the model, and its SHA-256 (first 16 bytes) is the model id in every file.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import torch
from torch import nn

from pillow_l3c._format import model_file_id
from pillow_l3c._verify import check_graph
from pillow_l3c.network.architecture import L3C, L3cConfig
from pillow_l3c.network.exact import ExactL3C, verify
from pillow_l3c.network.polyphase import Polyphase, PolyphaseConfig
from pillow_l3c.network.polyphase_exact import ExactPolyphase


def script(model: nn.Module) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # see _model.load
        return torch.jit.script(model.eval())


def export(model: L3C | Polyphase, out: Path, exact: bool = True) -> bytes:
    """Write ``model`` to ``out`` as TorchScript (integer-exact unless ``exact`` is
    false; a polyphase model is always exact); returns its model id."""
    module: nn.Module
    if isinstance(model, Polyphase):
        module, exact = ExactPolyphase(model.eval()), True
    else:
        module = ExactL3C(model.eval()) if exact else model
    scripted = script(module)
    if exact:
        problems = verify(scripted) + check_graph(scripted, str(scripted.family))
        if problems:
            msg = "refusing to export a model that is not integer-exact: " + "; ".join(problems)
            raise ValueError(msg)
    out.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(out))
    return model_file_id(out)


def load_checkpoint(path: Path) -> L3C | Polyphase:
    ck = torch.load(path, map_location="cpu")
    model: L3C | Polyphase
    if ck.get("arch") == "polyphase":
        model = Polyphase(PolyphaseConfig(**ck["config"]))
    else:
        model = L3C(L3cConfig(**ck["config"]))
    model.load_state_dict(ck["model"])
    return model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m pillow_l3c.network.export", description=__doc__.split("\n")[0]
    )
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--float", action="store_true", help="export the floating-point model")
    p.add_argument("--name", help="rename OUT to NAME.ID.pt in its folder, as bundled models are")
    args = p.parse_args(argv)
    model_id = export(load_checkpoint(args.checkpoint), args.out, exact=not args.float)
    out = args.out
    if args.name:
        # Bundled models carry their id in their name: NAME.ID.pt (pillow_l3c/_model.py).
        out = args.out.with_name(f"{args.name}.{model_id.hex()[:8]}.pt")
        args.out.replace(out)
    print(f"wrote {out} (model id {model_id.hex()})")


if __name__ == "__main__":
    main()
