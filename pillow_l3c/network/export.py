"""Export a training checkpoint as the TorchScript file the codec loads.

    python -m pillow_l3c.network.export runs/x/last.pt weights/tmp.pt [--name NAME] [--float]

By default the export is integer-exact (network/exact.py): the predictors' weights
become integers, and the export refuses a model whose integer arithmetic could leave
the exact range or uses an operation off the loader's whitelist (the codec's loader
checks the same again). ``--float`` exports the floating-point model, whose files
decode only where they were written.

The codec never imports this package's training code: the exported file alone
defines the model. Its id in format-3 files is the hash of its integers
(``pillow_l3c._model.integer_id``); the SHA-256 of the file (first 16 bytes, format
2's id) names a bundled file. ``--name`` records both in ``ids.json`` beside it, and
keeps the file ids of earlier exports of the same integers, whose format-2 files
still decode with the new export.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from pillow_l3c._model import integer_id, model_file_id
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
        record_ids(out.parent / "ids.json", args.name, out)
    print(f"wrote {out} (file id {model_id.hex()})")


def record_ids(ids_file: Path, name: str, model_file: Path) -> None:
    """Record ``name``'s integer id and file id in ``ids_file`` (``weights/ids.json``).

    A re-export of the same integers keeps its predecessor's file id among
    ``format2_ids``: format-2 files name their model by file id.
    """
    data = json.loads(ids_file.read_text()) if ids_file.exists() else {"models": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        new_id = integer_id(torch.jit.load(str(model_file), map_location="cpu")).hex()
    entry = {"integer_id": new_id, "file_id": model_file_id(model_file).hex(), "format2_ids": []}
    old = data["models"].get(name)
    if old is not None and old["integer_id"] == new_id and old["file_id"] != entry["file_id"]:
        entry["format2_ids"] = sorted({*old["format2_ids"], old["file_id"]})
    data["models"][name] = entry
    ids_file.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
