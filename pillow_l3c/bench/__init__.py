"""``l3c bench DIR``: L3C against PNG, WebP, JPEG 2000 and JPEG XL on a folder of images.

For every image and codec it reports bits per sub-pixel, encode and decode seconds per
megapixel and the peak resident memory of the encode and of the decode, and checks that
every decode gives back the original pixels bit for bit (a lossless codec that is not
is an error in the report, never a number in the table). An 8-bit image is converted
to RGB; a 16-bit one (PNG, TIFF, PPM/PGM) is coded as stored, uint16 grey, grey+alpha,
RGB or RGBA, and its bpsp is bits per sample (``images``: Pillow alone would read a
16-bit RGB file as 8 bits). A codec without a 16-bit mode (WebP) is "n/a" on such an
image: not run, neither a number nor an error.

Why child processes: peak memory is a property of a process, so each (image, codec,
direction) runs in a fresh ``python -m pillow_l3c.bench --worker SPEC`` that imports
only what that codec needs. The child loads its libraries and warms the codec up on an
8x8 image (for L3C this loads the model), records its resident memory (the baseline),
resets the kernel's high-water mark (``/proc/self/clear_refs``) and only then times the
one call. The reported peak is that of the call alone, and the peak minus the baseline
is what the codec itself allocated. Encode and decode use separate children so that
memory the allocator kept after the encode does not inflate the decode's figures.

Timings are the best of ``--repeat`` calls, wall clock, on whatever else the machine
is doing at the time; aggregates are totals over totals (seconds over megapixels, bits
over sub-pixels), so larger images weigh more, as in the papers.

The CLI wires this in with ``add_arguments(subparser)`` and ``run(args)``; ``python -m
pillow_l3c.bench DIR ...`` runs the same benchmark without it. By job: ``codecs`` (one
encode and decode function per codec), ``child`` (the measured call, the only user of
the OS's memory accounting), ``jobs`` (an image and a codec through two children),
``report`` (tables, JSON, chart), ``images`` (reading 8- and 16-bit files); the
options live in ``pillow_l3c._bench_args`` so that the ``l3c`` command can offer them
without importing any of this.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pillow_l3c._bench_args import BASELINES, add_arguments, codec_labels, default_codecs
from pillow_l3c._suffixes import IMAGE_SUFFIXES
from pillow_l3c.bench import child
from pillow_l3c.bench.codecs import (
    PNG16_LEVEL,
    baseline_threads,
    codec_functions,
    inapplicable_reason,
    unavailable_reason,
)
from pillow_l3c.bench.images import LOAD_ERRORS, channel_name, channels_of, load_pixels
from pillow_l3c.bench.jobs import Result, measure
from pillow_l3c.bench.report import (
    json_report,
    per_image_table,
    summarize,
    summary_table,
    write_chart,
)

__all__ = [
    "BASELINES",
    "IMAGE_SUFFIXES",
    "Result",
    "add_arguments",
    "codec_functions",
    "codec_labels",
    "default_codecs",
    "find_images",
    "load_pixels",
    "main",
    "run",
    "unavailable_reason",
    "worker",
]


class Loaded(NamedTuple):
    """An image read for the run: where its pixels wait for the children, and their kind."""

    index: int
    path: Path
    npy: Path
    shape: tuple[int, int]
    dtype: str
    channels: int


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One measured call in this process, as a child makes it (``child.measure``).

    The codec's functions are looked up here at each call, so that replacing
    ``codec_functions`` in this package reaches the measurement.
    """
    return child.measure(spec, codec_functions)


def find_images(folder: Path, limit: int = 0) -> list[Path]:
    """The images directly in ``folder``, by name; the first ``limit`` when positive.

    Subfolders are left out, unlike ``l3c encode``'s: a benchmark's set is one flat
    folder, and a chart or report written beside it must not become a photo.
    """
    paths = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    return paths[:limit] if limit > 0 else paths


def _note(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"l3c bench: {msg}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; 0 if every job succeeded and was exact, else 1.

    A skipped codec (not in this imagecodecs build) is a note, not a failure; an
    unreadable image, a failed call or an inexact decode is an error: reported, the
    rest still measured, and the exit status 1.
    """
    from tqdm import tqdm

    folder: Path = args.folder
    if not folder.is_dir():
        print(f"l3c bench: error: {folder} is not a folder", file=sys.stderr)
        return 1
    unsupported = child.unsupported_reason()
    if unsupported:
        print(f"l3c bench: error: {unsupported}", file=sys.stderr)
        return 1
    # a chart written into DIR by an earlier run is not a photo to benchmark
    own = {p.resolve() for p in (args.chart, args.json) if p}
    paths = [p for p in find_images(folder) if p.resolve() not in own]
    paths = paths[: args.limit] if args.limit > 0 else paths
    if not paths:
        print(f"l3c bench: error: no images in {folder}", file=sys.stderr)
        return 1
    skipped = {c: why for c in args.codecs if (why := unavailable_reason(c))}
    for c, why in skipped.items():
        _note(f"note: skipping {codec_labels()[c]}: {why}")
    codecs = [c for c in args.codecs if c not in skipped]
    if not codecs:
        print("l3c bench: error: no codec to run", file=sys.stderr)
        return 1

    image_errors: dict[str, str] = {}
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="l3c-bench-") as tmp:
        workdir = Path(tmp)
        loaded: list[Loaded] = []
        for i, path in enumerate(paths):
            try:
                pixels = load_pixels(path)
            except LOAD_ERRORS as e:
                image_errors[str(path)] = f"{type(e).__name__}: {e}"
                _note(f"error: {path}: cannot read: {e}")
                continue
            npy = workdir / f"{i}.npy"
            np.save(npy, pixels)
            loaded.append(
                Loaded(i, path, npy, pixels.shape[:2], str(pixels.dtype), channels_of(pixels))
            )
        jobs = [(item, c) for item in loaded for c in codecs]
        bar = tqdm(jobs, unit="job", file=sys.stderr, disable=args.quiet or not jobs)
        for item, c in bar:
            bar.set_description(f"{c} {item.path.stem[:24]}")
            na = inapplicable_reason(c, item.dtype)
            if na:  # not run at all: WebP has no 16-bit mode
                h, w = item.shape
                bits = 8 * np.dtype(item.dtype).itemsize
                results.append(
                    Result(str(item.path), c, w, h, channels=item.channels, bits=bits, na=na)
                )
                continue
            r = measure(
                item.index,
                str(item.path),
                item.npy,
                item.shape,
                c,
                workdir,
                args,
                item.dtype,
                item.channels,
            )
            if r.error:
                _note(f"error: {item.path}: {codec_labels()[c]}: {r.error}")
            results.append(r)

    summary = summarize(results, codecs)
    if args.per_image and results:
        print(per_image_table(results))
        print()
    ok_images = len(loaded)
    total_mp = sum(item.shape[0] * item.shape[1] for item in loaded) / 1e6
    print(
        f"{ok_images} image(s), {total_mp:.2f} MP, from {folder}; L3C on {args.device}; "
        f"every codec given {baseline_threads()} threads (PNG and WebP decoding take one); "
        f"times are the best of {args.repeat}; +MiB is the peak over the child's baseline"
    )
    deep = Counter(channel_name(item.channels) for item in loaded if item.dtype == "uint16")
    if deep:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(deep.items()))
        print(
            f"16-bit images ({kinds}) are coded at their depth and channels, bpsp being "
            f"bits per sample; PNG codes them through imagecodecs (libpng, level "
            f"{PNG16_LEVEL}), as Pillow writes no 16-bit RGB"
        )
    print(summary_table(summary))
    for s in summary.values():
        if s.get("na"):
            print(f"{s['label']}: {s['na_reason']}, not run on {s['na']} 16-bit image(s)")
    for c, why in skipped.items():
        print(f"skipped {codec_labels()[c]}: {why}")
    errors = [f"{p}: {e}" for p, e in image_errors.items()]
    errors += [f"{r.image}: {codec_labels()[r.codec]}: {r.error}" for r in results if r.error]
    if errors:
        print(f"{len(errors)} error(s):")
        for e in errors:
            print(f"  {e}")

    if args.chart:
        try:
            title = f"{ok_images} image(s) from {folder.name or folder}, L3C on {args.device}"
            if write_chart(summary, args.chart, title):
                print(f"chart: {args.chart}")
        except ImportError:
            _note("note: matplotlib is not installed; no chart")
    if args.json:
        args.json.write_text(
            json.dumps(json_report(args, codecs, skipped, image_errors, results, summary), indent=2)
            + "\n"
        )
        print(f"results: {args.json}")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pillow_l3c.bench``: the benchmark, or with ``--worker SPEC`` one child.

    The children are started through this same entry point so that they import this
    package exactly as the parent does, even from an uninstalled checkout.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"] and len(argv) == 2:
        return child.main(argv[1], codec_functions)
    parser = argparse.ArgumentParser(
        prog="python -m pillow_l3c.bench", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
