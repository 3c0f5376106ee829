"""The ``l3c`` command line.

    l3c encode IN... [-o OUT] [--model NAME]
                                 images -> .l3c (OUT: a file for one input, else a folder)
    l3c decode IN... [-o OUT]    .l3c -> .png (or any format Pillow writes, by OUT's suffix)
    l3c crop FILE BOX -o OUT     one region (LEFT,UPPER,RIGHT,LOWER), only its tiles decoded
    l3c info FILE...             size, mode, model name and id, bpsp, from the header only
    l3c models                   the available models, their bpsp and speed on val
    l3c compare IMAGE...         bpsp of L3C against PNG, with an exact round-trip check
    l3c bench DIR                L3C against PNG, WebP, JPEG 2000, JPEG XL (pillow_l3c.bench)

An input folder stands for the images in it and its subfolders; their outputs keep
the folder structure under OUT. Many files are coded by one process per core, each
coding its file's tiles one at a time; one file is coded by all cores, tile by tile.
Outputs are written under a temporary name and renamed when complete, so an
interrupted run leaves no partial file, and a rerun skips every output that is newer
than its input (``--force`` recodes them): it resumes where it stopped.

Every error ends the command with a one-line message and exit status 1; with many
inputs the others are still processed.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import pillow_l3c
from pillow_l3c import _format
from pillow_l3c._suffixes import IMAGE_SUFFIXES
from pillow_l3c._threads import default_workers


def _jobs(inputs: Sequence[Path], out: Path | None, suffix: str) -> dict[Path, Path]:
    """Source -> target for every file to code.

    A folder stands for the files in it (images to encode, .l3c files to decode),
    mirrored under ``out``.
    """
    wanted = {".l3c"} if suffix != ".l3c" else IMAGE_SUFFIXES
    pairs: dict[Path, Path] = {}
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.suffix.lower() in wanted)
            base = out if out is not None else item
            for p in found:
                pairs[p] = (base / p.relative_to(item)).with_suffix(suffix)
        elif out is None:
            pairs[item] = item.with_suffix(suffix)
        elif len(inputs) == 1 and not out.is_dir():
            pairs[item] = out
        else:
            pairs[item] = out / (item.stem + suffix)
    return pairs


def _up_to_date(src: Path, dst: Path) -> bool:
    """Whether ``dst`` is an output of an earlier run that needs no recoding.

    Outputs appear only by rename, so one that exists is complete; it is current when
    it is newer than its input.
    """
    try:
        return dst.stat().st_mtime_ns >= src.stat().st_mtime_ns
    except OSError:
        return False


def _encode_one(
    src: Path, dst: Path, device: str | None, workers: int | None = None, model: str | None = None
) -> str:
    with Image.open(src) as im:
        _atomic_save(im, dst, device=device, workers=workers, model=model)
    return f"{src} -> {dst} ({_bpsp(dst):.3f} bpsp)"


def _decode_one(
    src: Path, dst: Path, device: str | None, workers: int | None = None, model: str | None = None
) -> str:
    with _decoding_on(device, workers), Image.open(src) as im:
        if im.format != "L3C":
            msg = f"not an L3C file (Pillow reads it as {im.format})"
            raise OSError(msg)
        im.load()
        _atomic_save(im, dst)
    return f"{src} -> {dst}"


@contextmanager
def _decoding_on(device: str | None, workers: int | None) -> Iterator[None]:
    """Decode with this device and worker count for the duration, then restore.

    ``Image.open(...).load()`` takes no options: it reads the settings.
    """
    import dataclasses

    from pillow_l3c import _settings

    saved = dataclasses.replace(_settings.decoding)
    pillow_l3c.configure(device, workers, saved.max_tile_pixels)
    try:
        yield
    finally:
        _settings.decoding = saved


def _crop(src: Path, box: tuple[int, int, int, int], dst: Path, device: str | None) -> str:
    """One region of an .l3c file, decoding only the tiles under it."""
    from pillow_l3c import _settings

    with _decoding_on(device, _settings.decoding.workers), Image.open(src, formats=["L3C"]) as im:
        _atomic_save(im.crop(box), dst)
    return f"{src} {box} -> {dst}"


def _box(text: str) -> tuple[int, int, int, int]:
    """LEFT,UPPER,RIGHT,LOWER as Pillow's crop takes them."""
    try:
        left, upper, right, lower = (int(v) for v in text.split(","))
    except ValueError:
        msg = f"a box is LEFT,UPPER,RIGHT,LOWER in pixels, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if right < left or lower < upper:
        msg = f"a box's right and lower edges come after its left and upper ones, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return left, upper, right, lower


def _atomic_save(im: Image.Image, dst: Path, **params: object) -> None:
    """Save to a temporary name first, so a failure never leaves a partial file."""
    tmp = dst.with_name(f".{dst.name}.partial")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        im.save(tmp, format=Image.registered_extensions().get(dst.suffix.lower()), **params)
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)


def _bpsp(path: Path) -> float:
    with path.open("rb") as f:
        header = _format.read_header(f)
    return path.stat().st_size * 8 / (header.width * header.height * header.planes)


def _model_name(model_id: bytes) -> str:
    """The name of the available model with this id, without loading it."""
    from pillow_l3c import _model

    for f in _model.model_files():
        if _model.model_id(f.path) == model_id:
            return f.name
    return "not available here"


def _info(path: Path) -> str:
    with path.open("rb") as f:
        h = _format.read_header(f)
    return (
        f"{path}: {h.width}x{h.height} {h.mode}, format version {h.version}, "
        f"{h.tile_count()} tile{'s' if h.tile_count() > 1 else ''} of {h.tile_size}, "
        f"model {_model_name(h.model_id)} ({h.model_id.hex()}), {_bpsp(path):.3f} bpsp"
    )


def _models() -> int:
    """One line per available model: name, id, default mark, and its measured figures."""
    from pillow_l3c import _model

    default = _model.weights_path()
    figures = _model_figures()
    for f in _model.model_files():
        mark = " (default)" if f.path == default else ""
        model_id = _model.model_id(f.path).hex()
        card = figures.get(model_id[: _model.ID_IN_NAME], "not measured")
        print(f"{f.name}{mark}  id {model_id}  {card}")
    return 0


def _model_figures() -> dict[str, str]:
    """Each measured model's figures, keyed by its id's first hex digits.

    They live in ``weights/figures.json``, installed beside the models, so that a
    retrained model's figures change with its file rather than in this code.
    """
    from importlib import resources

    try:
        text = (resources.files("pillow_l3c.weights") / "figures.json").read_text()
    except FileNotFoundError:
        return {}
    return {
        prefix: (
            f"val {m['val_bpsp']:.3f} bpsp, encode {m['encode_s_per_mp']:.2f} s/MP, "
            f"decode {m['decode_s_per_mp']:.2f} s/MP"
        )
        for prefix, m in json.loads(text)["models"].items()
    }


def _compare(path: Path, device: str | None, model: str | None = None) -> str:
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    png = io.BytesIO()
    rgb.save(png, "PNG", optimize=True)
    data = pillow_l3c.encode(np.asarray(rgb), device=device, model=model)
    if pillow_l3c.decode(data, device=device).tobytes() != rgb.tobytes():
        msg = "round trip is not exact"
        raise pillow_l3c.L3cError(msg)
    subpixels = rgb.width * rgb.height * 3
    l3c, png_bpsp = len(data) * 8 / subpixels, len(png.getvalue()) * 8 / subpixels
    return (
        f"{path}: {rgb.width}x{rgb.height}  L3C {l3c:.3f} bpsp  PNG {png_bpsp:.3f} bpsp  "
        f"({100 * (l3c / png_bpsp - 1):+.1f}%)  round trip exact"
    )


ERRORS = (OSError, ValueError, SyntaxError)


def _run(items: Sequence[Path], job: Callable[[Path], str], progress: bool) -> int:
    failures = 0
    bar = tqdm(items, unit="file", disable=not progress or len(items) < 2, file=sys.stderr)
    for item in bar:
        try:
            tqdm.write(job(item), file=sys.stdout)
        except ERRORS as e:
            failures += 1
            tqdm.write(f"l3c: error: {item}: {e}", file=sys.stderr)
    return 1 if failures else 0


def _in_child(
    job: Callable[..., str], src: Path, dst: Path, device: str | None, model: str | None
) -> str:
    """One file in a pool process: its tiles one at a time (the pool has a process per core)."""
    try:
        return job(src, dst, device, workers=1, model=model)
    except ERRORS as e:
        msg = f"l3c: error: {src}: {e}"
        raise _ChildError(msg) from None


class _ChildError(Exception):
    """An error message that crosses the process boundary as text."""


def _code_files(args: argparse.Namespace) -> int:
    if args.scheduler:
        if args.jobs:
            print(
                "l3c: error: -j has no effect with --scheduler (the workers' threads are "
                "the parallelism)",
                file=sys.stderr,
            )
            return 1
        from pillow_l3c import cluster
        from pillow_l3c._optional import MissingDependencyError

        try:
            return cluster.run_cli(args)
        except MissingDependencyError as e:
            print(f"l3c: error: --scheduler: {e}", file=sys.stderr)
            return 1
    if args.manifest:
        print("l3c: error: --manifest needs --scheduler", file=sys.stderr)
        return 1
    args.inputs = [Path(p) for p in args.inputs]
    args.output = Path(args.output) if args.output is not None else None
    encoding = args.command == "encode"
    suffix, job = (".l3c", _encode_one) if encoding else (".png", _decode_one)
    pairs = _jobs(args.inputs, args.output, suffix)
    missing = [p for p in args.inputs if not p.exists()]
    failures = len(missing)
    for p in missing:
        print(f"l3c: error: {p}: no such file or folder", file=sys.stderr)
    first: dict[Path, Path] = {}
    for src, dst in list(pairs.items()):
        if dst in first:  # a.png and a.bmp would both become a.l3c: not coded
            print(
                f"l3c: error: {src}: its output {dst} is also that of {first[dst]}", file=sys.stderr
            )
            failures += 1
            del pairs[src]
        first.setdefault(dst, src)
    todo = {
        s: d for s, d in pairs.items() if s not in missing and (args.force or not _up_to_date(s, d))
    }
    if len(todo) < len(pairs) and not args.quiet:
        print(f"l3c: {len(pairs) - len(todo)} outputs are up to date, skipped", file=sys.stderr)
    model = getattr(args, "model", None)
    if model is not None:
        from pillow_l3c import _model

        try:
            _model.find(model)  # an unknown name fails once, before any file
        except ValueError as e:
            print(f"l3c: error: {e}", file=sys.stderr)
            return 1
    jobs = min(args.jobs or default_workers(), len(todo))
    if jobs <= 1:
        code = _run(
            list(todo), lambda p: job(p, todo[p], args.device, model=model), progress=not args.quiet
        )
        return max(code, 1 if failures else 0)
    bar = tqdm(total=len(todo), unit="file", disable=args.quiet, file=sys.stderr)
    with ProcessPoolExecutor(jobs) as pool:
        futures = [
            pool.submit(partial(_in_child, job, s, d, args.device, model)) for s, d in todo.items()
        ]
        for future in as_completed(futures):
            try:
                tqdm.write(future.result(), file=sys.stdout)
            except _ChildError as e:
                failures += 1
                tqdm.write(str(e), file=sys.stderr)
            bar.update()
    bar.close()
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    """The ``l3c`` command's parser, apart from ``main`` so that tests parse without running.

    The bench options come from ``_bench_args``, not from the benchmark, which is
    imported only when ``l3c bench`` runs.
    """
    p = argparse.ArgumentParser(prog="l3c", description="L3C learned lossless image codec")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("encode", "images to .l3c"), ("decode", ".l3c to images")):
        s = sub.add_parser(name, help=help_)
        s.add_argument("inputs", nargs="+", help="files or folders (with --scheduler: URLs)")
        s.add_argument("-o", "--output", help="file (one input) or folder")
        s.add_argument("--device", help='"cpu" (default) or "cuda"')
        s.add_argument("-j", "--jobs", type=int, help="processes for many files (default: cores)")
        s.add_argument("-f", "--force", action="store_true", help="recode up-to-date outputs")
        s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        if name == "encode":
            s.add_argument("-m", "--model", help="model name (l3c models; default: the best)")
        s.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help="run on a Dask cluster: tcp://HOST:8786, or local[:N] for N worker processes "
            "here; inputs and -o are then fsspec URLs, -o a folder (needs pillow-l3c[dask])",
        )
        s.add_argument(
            "--manifest",
            metavar="URL",
            help="with --scheduler: the run's manifest, .csv or .parquet "
            "(default: OUT/l3c-encode-manifest.csv or l3c-decode-...)",
        )
    s = sub.add_parser("crop", help="one region of an .l3c file, decoding only its tiles")
    s.add_argument("input", type=Path)
    s.add_argument("box", type=_box, metavar="LEFT,UPPER,RIGHT,LOWER")
    s.add_argument(
        "-o", "--output", type=Path, required=True, help="image file (any suffix Pillow writes)"
    )
    s.add_argument("--device", help='"cpu" (default) or "cuda"')
    s = sub.add_parser("info", help="header of .l3c files")
    s.add_argument("inputs", nargs="+", type=Path)
    sub.add_parser("models", help="the available models, their bpsp and speed")
    s = sub.add_parser("compare", help="bpsp of L3C against PNG")
    s.add_argument("inputs", nargs="+", type=Path)
    s.add_argument("--device")
    s.add_argument("-m", "--model", help="model name (l3c models)")
    from pillow_l3c import _bench_args  # the options only: the benchmark loads for `l3c bench`

    s = sub.add_parser("bench", help="L3C against PNG, WebP, JPEG 2000 and JPEG XL")
    _bench_args.add_arguments(s)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``l3c`` command; the exit status (0, or 1 after any error).

    Errors are reported one line each and the other inputs still processed, so the
    status is the way a script learns that some file failed.
    """
    args = build_parser().parse_args(argv)
    if args.command == "crop":
        return _run(
            [args.input], lambda p: _crop(p, args.box, args.output, args.device), progress=False
        )
    if args.command == "info":
        return _run(args.inputs, _info, progress=False)
    if args.command == "models":
        return _models()
    if args.command == "compare":
        return _run(args.inputs, lambda p: _compare(p, args.device, args.model), progress=True)
    if args.command == "bench":
        from pillow_l3c import bench

        return bench.run(args)
    return _code_files(args)


if __name__ == "__main__":
    sys.exit(main())
