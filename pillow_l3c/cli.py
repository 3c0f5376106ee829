"""The ``l3c`` command line.

    l3c encode IN... [-o OUT]    images -> .l3c (OUT: a file for one input, else a folder)
    l3c decode IN... [-o OUT]    .l3c -> .png (or any format Pillow writes, by OUT's suffix)
    l3c info FILE...             size, mode, model id and bpsp, from the header only
    l3c compare IMAGE...         bpsp of L3C against PNG, with an exact round-trip check

Every error ends the command with a one-line message and exit status 1; with many
inputs the others are still processed.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import pillow_l3c
from pillow_l3c import _format


def _targets(inputs: Sequence[Path], out: Path | None, suffix: str) -> list[Path]:
    if out is None:
        return [p.with_suffix(suffix) for p in inputs]
    if len(inputs) == 1 and not out.is_dir():
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    return [out / (p.stem + suffix) for p in inputs]


def _encode_one(src: Path, dst: Path, device: str | None) -> str:
    with Image.open(src) as im:
        _atomic_save(im, dst, device=device)
    return f"{src} -> {dst} ({_bpsp(dst):.3f} bpsp)"


def _decode_one(src: Path, dst: Path, device: str | None) -> str:
    pillow_l3c.register(device)
    with Image.open(src) as im:
        if im.format != "L3C":
            msg = f"not an L3C file (Pillow reads it as {im.format})"
            raise OSError(msg)
        im.load()
        _atomic_save(im, dst)
    return f"{src} -> {dst}"


def _atomic_save(im: Image.Image, dst: Path, **params: object) -> None:
    """Save to a temporary name first, so a failure never leaves a partial file."""
    tmp = dst.with_name(f".{dst.name}.partial")
    try:
        im.save(tmp, format=Image.registered_extensions().get(dst.suffix.lower()), **params)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)


def _bpsp(path: Path) -> float:
    with path.open("rb") as f:
        header = _format.read_header(f)
    return path.stat().st_size * 8 / (header.width * header.height * header.planes)


def _info(path: Path) -> str:
    with path.open("rb") as f:
        h = _format.read_header(f)
    return (
        f"{path}: {h.width}x{h.height} {h.mode}, format version {h.version}, "
        f"{h.tile_count()} tile{'s' if h.tile_count() > 1 else ''} of {h.tile_size}, "
        f"model {h.model_id.hex()}, {_bpsp(path):.3f} bpsp"
    )


def _compare(path: Path, device: str | None) -> str:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    png = io.BytesIO()
    rgb.save(png, "PNG", optimize=True)
    data = pillow_l3c.encode(np.asarray(rgb), device=device)
    if pillow_l3c.decode(data, device=device).tobytes() != rgb.tobytes():
        msg = "round trip is not exact"
        raise pillow_l3c.L3cError(msg)
    subpixels = rgb.width * rgb.height * 3
    l3c, png_bpsp = len(data) * 8 / subpixels, len(png.getvalue()) * 8 / subpixels
    return (
        f"{path}: {rgb.width}x{rgb.height}  L3C {l3c:.3f} bpsp  PNG {png_bpsp:.3f} bpsp  "
        f"({100 * (l3c / png_bpsp - 1):+.1f}%)  round trip exact"
    )


def _run(items: Sequence[Path], job: Callable[[Path], str], progress: bool) -> int:
    failures = 0
    bar = tqdm(items, unit="file", disable=not progress or len(items) < 2, file=sys.stderr)
    for item in bar:
        try:
            tqdm.write(job(item), file=sys.stdout)
        except (OSError, ValueError, SyntaxError) as e:
            failures += 1
            tqdm.write(f"l3c: error: {item}: {e}", file=sys.stderr)
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="l3c", description="L3C learned lossless image codec")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("encode", "images to .l3c"), ("decode", ".l3c to images")):
        s = sub.add_parser(name, help=help_)
        s.add_argument("inputs", nargs="+", type=Path)
        s.add_argument("-o", "--output", type=Path, help="file (one input) or folder")
        s.add_argument("--device", help='"cpu" (default) or "cuda"')
        s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("info", help="header of .l3c files")
    s.add_argument("inputs", nargs="+", type=Path)
    s = sub.add_parser("compare", help="bpsp of L3C against PNG")
    s.add_argument("inputs", nargs="+", type=Path)
    s.add_argument("--device")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "info":
        return _run(args.inputs, _info, progress=False)
    if args.command == "compare":
        return _run(args.inputs, lambda p: _compare(p, args.device), progress=True)
    suffix, one = (".l3c", _encode_one) if args.command == "encode" else (".png", _decode_one)
    pairs = dict(zip(args.inputs, _targets(args.inputs, args.output, suffix), strict=True))
    return _run(args.inputs, lambda p: one(p, pairs[p], args.device), progress=not args.quiet)


if __name__ == "__main__":
    sys.exit(main())
