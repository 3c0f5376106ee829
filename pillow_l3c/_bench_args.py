"""The options of ``l3c bench`` and the codec names they accept.

Apart from the benchmark itself (``pillow_l3c.bench``) so that the ``l3c`` command can
build its parser without importing it: the benchmark measures memory with POSIX-only
modules, and ``l3c encode`` must start on any platform. Nothing here imports more than
the standard library; the model names come from a listing of the weights folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

BASELINES: dict[str, str] = {
    "png": "PNG (optimize)",
    "webp": "WebP lossless (m6)",
    "jpeg2000": "JPEG 2000 (mct)",
    "jxl-e7": "JPEG XL (e7)",
    "jxl-e9": "JPEG XL (e9)",
}


def codec_labels() -> dict[str, str]:
    """Every codec ``--codecs`` takes: one per available model ("l3c:NAME"), "l3c" for
    the default model, and the baselines."""
    from pillow_l3c import _model

    models = {f"l3c:{f.name}": f"L3C {f.name}" for f in _model.model_files()}
    return {"l3c": f"L3C ({_model.find().name})", **models, **BASELINES}


def default_codecs() -> list[str]:
    """Every model and every baseline (the default model once, under its name)."""
    return [c for c in codec_labels() if c != "l3c"]


def is_l3c(name: str) -> bool:
    """Whether ``name`` is one of this package's models rather than a baseline."""
    return name == "l3c" or name.startswith("l3c:")


def _codec_list(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    known = codec_labels()
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        given = ", ".join(unknown) or "(none given)"
        msg = f"unknown codec(s) {given}; choose from {','.join(known)}"
        raise argparse.ArgumentTypeError(msg)
    return list(dict.fromkeys(names))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``l3c bench`` to ``parser`` (a subparser of the CLI)."""
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder of images")
    parser.add_argument(
        "--codecs",
        type=_codec_list,
        default=default_codecs(),
        help="comma-separated: l3c (the default model), l3c:NAME for each model (l3c models), "
        f"{','.join(BASELINES)} (default: every model and every baseline)",
    )
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="first N images only")
    parser.add_argument("--device", default="cpu", help='for L3C: "cpu" (default) or "cuda"')
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all results here")
    parser.add_argument(
        "--chart",
        type=Path,
        default=Path("l3c-bench.png"),
        metavar="PATH",
        help="bpsp against encode time (default: l3c-bench.png)",
    )
    parser.add_argument("--per-image", action="store_true", help="also print one row per image")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time the best of N calls (default 1)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=0,
        metavar="S",
        help="give up on one encode or decode after S seconds (default: never)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
