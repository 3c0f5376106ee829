"""The ``l3c`` command line.

    l3c encode IN... [-o OUT] [--model NAME]
                                 images -> .l3c (OUT: a file for one input, else a folder)
    l3c decode IN... [-o OUT]    .l3c -> .png (or another lossless format, by OUT's suffix)
    l3c crop FILE BOX -o OUT     one region (LEFT,UPPER,RIGHT,LOWER), only its tiles decoded
    l3c info FILE...             size, mode, model name and id, bpsp, from the header only
    l3c models                   the available models, their bpsp and speed on val
    l3c compare IMAGE...         bpsp of L3C against PNG, with an exact round-trip check
    l3c bench DIR                L3C against PNG, WebP, JPEG 2000, JPEG XL (pillow_l3c.bench)

An input folder stands for the images in it and its subfolders; their outputs keep
the folder structure under OUT. Many files are coded by one process per core, each
coding its file's tiles one at a time; one file is coded by all cores, tile by tile.
Outputs are written under a temporary name and linked into place when complete, so an
interrupted run leaves no partial file, and a rerun skips every output that is newer
than its input: it resumes where it stopped.

No command writes over a file it did not write (``_outputs``: ``--force`` asks for
it, and even then an input is never replaced), decodes keep the metadata and write
only lossless formats unless ``--lossy`` (``_metadata``), and what cannot be kept is
printed as a warning. Every error ends the command with a one-line message and exit
status 1; with many inputs the others are still processed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from PIL import Image
from tqdm import tqdm

import pillow_l3c
from pillow_l3c import _deep_files, _format, _metadata, _outputs
from pillow_l3c._sources import check_frames, check_source
from pillow_l3c._suffixes import IMAGE_SUFFIXES
from pillow_l3c._threads import default_workers
from pillow_l3c.tile_coders.base import LEARNED


class _UsageError(Exception):
    """A command line that does not parse: one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 1, as the README says."""

    def error(self, message: str) -> NoReturn:
        msg = f"{self.prog}: error: {message} (see {self.prog} --help)"
        raise _UsageError(msg)


def _expand(
    inputs: Sequence[Path], wanted: frozenset[str], what: str
) -> tuple[list[Path], list[str]]:
    """The files an input list stands for, and an error line per input without any.

    A folder stands for the ``wanted`` files under it; a missing input, or a folder
    with no such file, is an error, never a silent no-op.
    """
    files: list[Path] = []
    errors: list[str] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in wanted)
            if not found:
                errors.append(f"l3c: error: {item}: a folder without {what}")
            files += found
        elif item.exists():
            files.append(item)
        else:
            errors.append(f"l3c: error: {item}: no such file or folder")
    return files, errors


def _is_folder(out: Path, raw: str) -> bool:
    """An output names a folder when it is one, ends in a separator, or has no suffix."""
    return out.is_dir() or raw.endswith(("/", os.sep)) or not out.suffix


def _jobs(
    inputs: Sequence[Path], out: Path | None, suffix: str, out_is_folder: bool
) -> tuple[dict[Path, Path], list[str]]:
    """Source -> target for every file to code, and the inputs' error lines.

    A folder stands for the files in it (images to encode, .l3c files to decode),
    mirrored under ``out``.
    """
    wanted = frozenset({".l3c"}) if suffix != ".l3c" else IMAGE_SUFFIXES
    what = ".l3c files" if suffix != ".l3c" else "images"
    pairs: dict[Path, Path] = {}
    errors: list[str] = []
    for item in inputs:
        found, missing = _expand([item], wanted, what)
        errors += missing
        for p in found:
            if item.is_dir():
                base = out if out is not None else item
                target = (base / p.relative_to(item)).with_suffix(suffix)
                if out is not None and p.is_relative_to(out):
                    continue  # an earlier run's outputs inside the source folder
            elif out is None:
                target = p.with_suffix(suffix)
            elif not out_is_folder:
                target = out
            else:
                target = out / (p.stem + suffix)
            pairs[p] = target
    return pairs, errors


def _output_format(dst: Path, allow_lossy: bool) -> str:
    """The Pillow format a decode writes to ``dst``, by its suffix; lossy ones refused."""
    fmt = Image.registered_extensions().get(dst.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        msg = f"no image format that Pillow writes has the suffix {dst.suffix!r}"
        raise ValueError(msg)
    _metadata.lossless_save_params(fmt, allow_lossy)  # a LossyOutputError (ValueError)
    return fmt


@contextmanager
def _warnings_as_lines(lines: list[str], where: Path) -> Iterator[None]:
    """Collect the warnings a job raises (metadata not kept, ...) as lines to print."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    lines += [f"l3c: warning: {where}: {w.message}" for w in caught]


def _encode_one(
    src: Path, dst: Path, device: str | None, workers: int | None = None, **options: Any
) -> tuple[str, list[str]]:
    notes: list[str] = []
    with _warnings_as_lines(notes, src), Image.open(src) as im:
        check_frames(im)
        raw = _deep_files.reduced_depth(im)

        def save(tmp: Path) -> None:
            if raw is not None:  # 16-bit colour: the pixels by imagecodecs, the rest by Pillow
                _save_deep(im, _deep_files.read_pixels(src, im, raw), tmp, device, workers, options)
                return
            im.save(
                tmp,
                format="L3C",
                device=device,
                workers=workers,
                model=options.get("model"),
                effort=options.get("effort"),
                coder=options.get("coder"),
            )

        _outputs.write_file(dst, save, options.get("force", False))
    return f"{src} -> {dst} ({_bpsp(dst):.3f} bpsp)", notes


def _save_deep(
    im: Image.Image,
    pixels: np.ndarray,
    tmp: Path,
    device: str | None,
    workers: int | None,
    options: dict[str, Any],
) -> None:
    """A 16-bit colour source as .l3c: its pixels, and its metadata as Pillow read it."""
    from pillow_l3c import _codec

    meta, dropped = _metadata.Metadata.from_image(im, {})
    _metadata.warn_not_kept("L3C", dropped)
    mode = pillow_l3c._BAND_MODES[pixels.shape[2]]
    coding = _codec.options(
        options.get("model"), options.get("effort"), None, device, workers, options.get("coder")
    )
    with open(tmp, "wb") as f:
        _codec.write(f, pixels, mode, meta.to_sections(), coding)


def _decode_deep(
    src: Path,
    dst: Path,
    fmt: str,
    force: bool,
    pixels_of: Callable[[Any], np.ndarray],
) -> bool:
    """Decode a 16-bit colour .l3c file to a 16-bit PNG, which Pillow cannot hold.

    ``pixels_of`` gives the pixels of the open file: the whole image, or a region.
    False for any other file, which Pillow decodes.
    """
    from pillow_l3c import _codec

    with src.open("rb") as f:
        try:
            header, sections = _codec.read_header(f)
        except pillow_l3c.L3cError:
            return False  # not L3C, or damaged: Image.open says which
        if not _deep_files.is_deep_colour(header):
            return False
        if fmt != "PNG":
            msg = (
                f"a 16-bit {header.mode} image is written as PNG only (Pillow writes no "
                f"16-bit colour, and this tool writes PNG itself), not {fmt}"
            )
            raise OSError(msg)
        f.seek(0)
        pixels = pixels_of(f)
    write = partial(_deep_files.write_png_with_metadata, pixels=pixels, sections=sections)
    _outputs.write_file(dst, write, force)
    return True


def _decode_one(
    src: Path, dst: Path, device: str | None, workers: int | None = None, **options: Any
) -> tuple[str, list[str]]:
    notes: list[str] = []
    fmt = _output_format(dst, options.get("lossy", False))
    with _warnings_as_lines(notes, dst), _decoding_on(device, workers):
        whole = partial(_whole_image, device=device, workers=workers)
        if _decode_deep(src, dst, fmt, options.get("force", False), whole):
            return f"{src} -> {dst}", notes
    with _warnings_as_lines(notes, dst), _decoding_on(device, workers), Image.open(src) as im:
        if im.format != "L3C":
            msg = f"not an L3C file (Pillow reads it as {im.format})"
            raise OSError(msg)
        im.load()
        _outputs.write_file(
            dst,
            lambda tmp: _metadata.save_exact(im, tmp, fmt, options.get("lossy", False)),
            options.get("force", False),
        )
    return f"{src} -> {dst}", notes


def _whole_image(f: Any, device: str | None, workers: int | None) -> np.ndarray:
    from pillow_l3c import _codec

    return _codec.decode(f, device, workers)[1]


def _region_of(f: Any, box: tuple[int, int, int, int], device: str | None) -> np.ndarray:
    from pillow_l3c import _region, _settings

    return _region.TileReader(f).read(box, device, _settings.decoding.workers)


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


def _crop(
    src: Path, box: tuple[int, int, int, int], dst: Path, device: str | None, **options: Any
) -> tuple[str, list[str]]:
    """One region of an .l3c file, decoding only the tiles under it."""
    from pillow_l3c import _settings

    notes: list[str] = []
    fmt = _output_format(dst, options.get("lossy", False))
    force = options.get("force", False)
    if _outputs.decide_path(src, dst, frozenset(), force) == _outputs.SKIP:  # not a rerun's
        raise _outputs.OutputRefusedError(_outputs.exists_message(str(dst)))
    with _warnings_as_lines(notes, dst):
        if _decode_deep(src, dst, fmt, True, partial(_region_of, box=box, device=device)):
            return f"{src} {box} -> {dst}", notes
    with (
        _warnings_as_lines(notes, dst),
        _decoding_on(device, _settings.decoding.workers),
        Image.open(src, formats=["L3C"]) as im,
    ):
        part = im.crop(box)
        part.info = dict(im.info)  # the region keeps the file's metadata
        _outputs.write_file(
            dst,
            lambda tmp: _metadata.save_exact(part, tmp, fmt, options.get("lossy", False)),
            force=True,  # decided above: this run's output
        )
    return f"{src} {box} -> {dst}", notes


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


def _bpsp(path: Path) -> float:
    with path.open("rb") as f:
        header = _format.read_header(f)
    return path.stat().st_size * 8 / (header.width * header.height * header.planes)


def _model_name(model_id: bytes) -> str:
    """The name of the available model with this id, without loading it."""
    from pillow_l3c import _model

    for f in _model.model_files():
        if model_id in _model.known_ids(f.path):
            return f.name
    return "not available here"


def _info(path: Path) -> str:
    with path.open("rb") as f:
        h = _format.read_header(f)
    methods = " and ".join(
        f"model {_model_name(m.id)} ({m.id.hex()})" if m.kind == LEARNED else m.describe()
        for m in h.methods
    )
    return (
        f"{path}: {h.width}x{h.height} {h.mode}, {h.bits} bits per sample, format version "
        f"{h.version}, "
        f"{h.tile_count()} tile{'s' if h.tile_count() > 1 else ''} of {h.tile_size}, "
        f"{methods}, {_bpsp(path):.3f} bpsp"
    )


def _models() -> int:
    """One line per available model: name, id, default mark, and its measured figures."""
    from pillow_l3c import _model

    default = _model.weights_path()
    figures = _model_figures()
    for f in _model.model_files():
        mark = " (default)" if f.path == default else ""
        model_id = _model.model_id(f.path).hex()
        card = figures.get(_model.file_id(f.path).hex()[: _model.ID_IN_NAME], "not measured")
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
    """Bits of L3C and of PNG (optimized) for the image as it is.

    Its own mode and planes, through the Pillow plugin as ``l3c encode`` codes it: a
    grey image counts one plane, alpha is coded, a palette image keeps its palette;
    a mode L3C refuses is refused here too. Exact means the same pixels and palette.
    """
    with Image.open(path) as im:
        check_source(im)
        im.load()
        png, data = io.BytesIO(), io.BytesIO()
        im.save(data, "L3C", device=device, model=model)  # its refusal first: it is ours
        (im.convert("I;16") if im.mode == "I" else im).save(png, "PNG", optimize=True)
        with _decoding_on(device, None), Image.open(data, formats=["L3C"]) as back:
            back.load()
            # by value: an I;16B or I source opens as I;16, the same samples in other bytes
            same = np.array_equal(np.asarray(back), np.asarray(im))
            exact = same and back.getpalette() == im.getpalette()
        mode, width, height, bands = im.mode, im.width, im.height, len(im.getbands())
    if not exact:
        msg = "round trip is not exact"
        raise pillow_l3c.L3cError(msg)
    subpixels = width * height * bands
    size = len(data.getvalue())
    l3c, png_bpsp = size * 8 / subpixels, len(png.getvalue()) * 8 / subpixels
    return (
        f"{path}: {width}x{height} {mode}  L3C {l3c:.3f} bpsp  PNG {png_bpsp:.3f} bpsp  "
        f"({100 * (l3c / png_bpsp - 1):+.1f}%)  round trip exact"
    )


ERRORS = (OSError, ValueError, SyntaxError)
Job = Callable[[Path], "str | tuple[str, list[str]]"]


def _show(result: str | tuple[str, list[str]]) -> None:
    """A job's line on stdout, its warnings on stderr."""
    line, notes = (result, []) if isinstance(result, str) else result
    for note in notes:
        tqdm.write(note, file=sys.stderr)
    tqdm.write(line, file=sys.stdout)


def _run(items: Sequence[Path], job: Job, progress: bool) -> int:
    failures = 0
    bar = tqdm(items, unit="file", disable=not progress or len(items) < 2, file=sys.stderr)
    for item in bar:
        try:
            _show(job(item))
        except ERRORS as e:
            failures += 1
            tqdm.write(f"l3c: error: {item}: {e}", file=sys.stderr)
    return 1 if failures else 0


def _in_child(
    job: Callable[..., tuple[str, list[str]]],
    src: Path,
    dst: Path,
    device: str | None,
    options: dict[str, Any],
) -> tuple[str, list[str]]:
    """One file in a pool process: its tiles one at a time (the pool has a process per core)."""
    try:
        return job(src, dst, device, workers=1, **options)
    except ERRORS as e:
        msg = f"l3c: error: {src}: {e}"
        raise _ChildError(msg) from None


def _ignore_interrupt() -> None:
    """Pool processes leave Ctrl-C to the parent, which stops the run with one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    raw_output = args.output
    args.inputs = [Path(p) for p in args.inputs]
    args.output = Path(raw_output) if raw_output is not None else None
    encoding = args.command == "encode"
    suffix, job = (".l3c", _encode_one) if encoding else (".png", _decode_one)
    out_is_folder = args.output is not None and _is_folder(args.output, raw_output)
    if args.output is not None and not out_is_folder:
        if len(args.inputs) > 1 or args.inputs[0].is_dir():
            print(
                f"l3c: error: -o {raw_output}: several inputs need a folder "
                "(an existing one, or a name ending in /)",
                file=sys.stderr,
            )
            return 1
        if encoding and args.output.suffix.lower() != ".l3c":
            print(
                f"l3c: error: -o {raw_output}: l3c encode writes .l3c files "
                "(name the output NAME.l3c, or a folder)",
                file=sys.stderr,
            )
            return 1
        if not encoding:
            try:
                _output_format(args.output, args.lossy)
            except ValueError as e:
                print(f"l3c: error: -o {raw_output}: {e}", file=sys.stderr)
                return 1
    if args.device is not None:
        from pillow_l3c import _model

        try:
            _model.resolve_device(args.device)
        except ValueError as e:
            print(f"l3c: error: --device: {e}", file=sys.stderr)
            return 1
    pairs, errors = _jobs(args.inputs, args.output, suffix, out_is_folder)
    for line in errors:
        print(line, file=sys.stderr)
    failures = len(errors)
    inputs = _outputs.file_ids(pairs)  # once: each output is checked against all of them
    first: dict[Path, Path] = {}
    todo: dict[Path, Path] = {}
    skipped = 0
    for src, dst in pairs.items():
        if dst in first:  # a.png and a.bmp would both become a.l3c: not coded
            print(
                f"l3c: error: {src}: its output {dst} is also that of {first[dst]}", file=sys.stderr
            )
            failures += 1
            continue
        first[dst] = src
        try:
            decision = _outputs.decide_path(src, dst, inputs, args.force)
        except _outputs.OutputRefusedError as e:
            print(f"l3c: error: {src}: {e}", file=sys.stderr)
            failures += 1
            continue
        if decision == _outputs.SKIP:
            skipped += 1
        else:
            todo[src] = dst
    if skipped and not args.quiet:
        print(f"l3c: {skipped} outputs are up to date, skipped", file=sys.stderr)
    options: dict[str, Any] = {"force": args.force}
    if encoding:
        options.update(model=args.model, effort=args.effort, coder=args.coder)
    else:
        options["lossy"] = args.lossy
    if encoding and args.model is not None:
        from pillow_l3c import _model

        try:
            _model.find(args.model)  # an unknown name fails once, before any file
        except ValueError as e:
            print(f"l3c: error: {e}", file=sys.stderr)
            return 1
    jobs = min(args.jobs or default_workers(), len(todo))
    if jobs <= 1:
        code = _run(
            list(todo), lambda p: job(p, todo[p], args.device, **options), progress=not args.quiet
        )
        return max(code, 1 if failures else 0)
    bar = tqdm(total=len(todo), unit="file", disable=args.quiet, file=sys.stderr)
    with ProcessPoolExecutor(jobs, initializer=_ignore_interrupt) as pool:
        futures = [
            pool.submit(partial(_in_child, job, s, d, args.device, options))
            for s, d in todo.items()
        ]
        try:
            for future in as_completed(futures):
                try:
                    _show(future.result())
                except _ChildError as e:
                    failures += 1
                    tqdm.write(str(e), file=sys.stderr)
                bar.update()
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)  # files in progress finish whole
            raise
        finally:
            bar.close()
    return 1 if failures else 0


def _each_file(
    inputs: Sequence[Path], wanted: frozenset[str], what: str, job: Job, progress: bool
) -> int:
    """Run ``job`` on the files behind ``info``'s and ``compare``'s inputs.

    A folder stands for the ``wanted`` files under it; an input that stands for
    nothing is an error line.
    """
    files, errors = _expand(inputs, wanted, what)
    for line in errors:
        print(line, file=sys.stderr)
    code = _run(files, job, progress) if files else 0
    return max(code, 1 if errors else 0)


def build_parser() -> argparse.ArgumentParser:
    """The ``l3c`` command's parser, apart from ``main`` so that tests parse without running.

    The bench options come from ``_bench_args``, not from the benchmark, which is
    imported only when ``l3c bench`` runs.
    """
    p = _Parser(prog="l3c", description="L3C learned lossless image codec")
    p.add_argument("--version", action="version", version=f"l3c {pillow_l3c.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("encode", "images to .l3c"), ("decode", ".l3c to images")):
        s = sub.add_parser(name, help=help_)
        s.add_argument("inputs", nargs="+", help="files or folders (with --scheduler: URLs)")
        s.add_argument(
            "-o",
            "--output",
            help="a file (one input, with a suffix) or a folder (one that exists, a name "
            "ending in /, or a name without a suffix)",
        )
        s.add_argument("--device", help='"cpu" (default) or "cuda"')
        s.add_argument("-j", "--jobs", type=int, help="processes for many files (default: cores)")
        s.add_argument(
            "-f",
            "--force",
            action="store_true",
            help="recode up-to-date outputs and replace existing files (never an input)",
        )
        s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        if name == "encode":
            s.add_argument("-m", "--model", help="model name (l3c models; default: the best)")
            s.add_argument(
                "-e",
                "--effort",
                type=int,
                choices=range(1, 10),
                metavar="1-9",
                help="how hard the encoder searches (default 7); decoding costs the same",
            )
            s.add_argument(
                "--coder",
                choices=["auto", "learned", "classical"],
                help="auto (default): a learned model for photographic tiles, the classical "
                "coder for synthetic ones; or every tile by one kind",
            )
        else:
            _add_lossy(s)
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
        "-o", "--output", type=Path, required=True, help="image file (a lossless format)"
    )
    s.add_argument("--device", help='"cpu" (default) or "cuda"')
    s.add_argument("-f", "--force", action="store_true", help="replace OUTPUT if it exists")
    _add_lossy(s)
    s = sub.add_parser("info", help="header of .l3c files")
    s.add_argument("inputs", nargs="+", type=Path, help=".l3c files or folders")
    sub.add_parser("models", help="the available models, their bpsp and speed")
    s = sub.add_parser("compare", help="bpsp of L3C against PNG")
    s.add_argument("inputs", nargs="+", type=Path, help="images or folders")
    s.add_argument("--device")
    s.add_argument("-m", "--model", help="model name (l3c models)")
    from pillow_l3c import _bench_args  # the options only: the benchmark loads for `l3c bench`

    s = sub.add_parser("bench", help="L3C against PNG, WebP, JPEG 2000 and JPEG XL")
    _bench_args.add_arguments(s)
    return p


def _add_lossy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lossy",
        action="store_true",
        help="allow an output format that does not store the pixels exactly (JPEG); "
        "by default only lossless ones are written (PNG, TIFF, WebP lossless, ...)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``l3c`` command; the exit status (0, or 1 after any error, 130 on Ctrl-C).

    Errors are reported one line each and the other inputs still processed, so the
    status is the way a script learns that some file failed.
    """
    try:
        return _main(argv)
    except _UsageError as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("l3c: interrupted (outputs are complete or absent: rerun to resume)", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "crop":
        return _run(
            [args.input],
            lambda p: _crop(
                p, args.box, args.output, args.device, force=args.force, lossy=args.lossy
            ),
            progress=False,
        )
    if args.command == "info":
        return _each_file(args.inputs, frozenset({".l3c"}), ".l3c files", _info, progress=False)
    if args.command == "models":
        return _models()
    if args.command == "compare":
        return _each_file(
            args.inputs,
            IMAGE_SUFFIXES,
            "images",
            lambda p: _compare(p, args.device, args.model),
            progress=True,
        )
    if args.command == "bench":
        from pillow_l3c import bench

        return bench.run(args)
    return _code_files(args)


if __name__ == "__main__":
    sys.exit(main())
