"""``l3c bench DIR``: L3C against PNG, WebP, JPEG 2000 and JPEG XL on a folder of images.

For every image (converted to RGB) and codec it reports bits per sub-pixel, encode and
decode seconds per megapixel and the peak resident memory of the encode and of the
decode, and checks that every decode gives back the original pixels bit for bit (a
lossless codec that is not is an error in the report, never a number in the table).

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
pillow_l3c.bench DIR ...`` runs the same benchmark without it.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pillow_l3c._suffixes import IMAGE_SUFFIXES

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


def _is_l3c(name: str) -> bool:
    return name == "l3c" or name.startswith("l3c:")


# imagecodecs' feature flag for each codec that it provides
_IMAGECODECS_FEATURE = {
    "webp": "WEBP",
    "jpeg2000": "JPEG2K",
    "jxl-e7": "JPEGXL",
    "jxl-e9": "JPEGXL",
}
MIB = 1024 * 1024

Encoder = Callable[[np.ndarray], bytes]
Decoder = Callable[[bytes], np.ndarray]


# --------------------------------------------------------------------------- codecs


def codec_functions(name: str, device: str | None = None) -> tuple[Encoder, Decoder]:
    """Encode and decode functions of one codec, importing only what it needs.

    Imports happen here, not at module level, so that a PNG child never pays for torch
    and an L3C child never for imagecodecs: both would show up in the baseline memory.
    """
    if _is_l3c(name):
        import pillow_l3c

        model = name[4:] or None

        def l3c_encode(a: np.ndarray) -> bytes:
            return pillow_l3c.encode(a, device=device, model=model)

        def l3c_decode(data: bytes) -> np.ndarray:
            return pillow_l3c.decode(data, device=device)

        return l3c_encode, l3c_decode
    if name == "png":

        def png_encode(a: np.ndarray) -> bytes:
            buf = io.BytesIO()
            Image.fromarray(a).save(buf, "PNG", optimize=True)
            return buf.getvalue()

        def png_decode(data: bytes) -> np.ndarray:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                return np.asarray(im)

        return png_encode, png_decode
    import imagecodecs

    if name == "webp":
        # level 100 with method 6 is libwebp's slowest, smallest lossless setting (cwebp -z 9)
        return (
            lambda a: imagecodecs.webp_encode(a, level=100, lossless=True, method=6),
            imagecodecs.webp_decode,
        )
    if name == "jpeg2000":
        return (
            lambda a: imagecodecs.jpeg2k_encode(a, reversible=True, mct=True),
            imagecodecs.jpeg2k_decode,
        )
    if name in ("jxl-e7", "jxl-e9"):
        effort = int(name[-1])
        return (
            lambda a: imagecodecs.jpegxl_encode(a, lossless=True, effort=effort),
            imagecodecs.jpegxl_decode,
        )
    msg = f"unknown codec {name!r}"
    raise ValueError(msg)


def _tiny_image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)


def unavailable_reason(name: str) -> str | None:
    """Why a baseline codec cannot run here (None if it can).

    An imagecodecs build may lack a codec, or have it and fail on use; a tiny round trip
    finds both before any child is started. L3C is not probed here, because that would
    import torch into the parent; a missing model shows up as an error per image.
    """
    if name not in _IMAGECODECS_FEATURE:
        return None
    try:
        import imagecodecs
    except ImportError:
        return "imagecodecs is not installed (pip install imagecodecs)"
    feature = getattr(imagecodecs, _IMAGECODECS_FEATURE[name], None)
    if feature is None or not getattr(feature, "available", False):
        return f"this imagecodecs build ({imagecodecs.__version__}) has no {codec_labels()[name]}"
    try:
        encode, decode = codec_functions(name)
        tiny = _tiny_image()
        if not np.array_equal(np.asarray(decode(encode(tiny))), tiny):
            return "a round trip of an 8x8 test image is not exact"
    except Exception as e:  # any failure of a third-party codec means: skip it
        return f"{type(e).__name__}: {e}"
    return None


# --------------------------------------------------------------------------- worker


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            m = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _peak_rss_kib() -> int:
    """The resident high-water mark of this process, in KiB.

    VmHWM first: getrusage's ru_maxrss is also at least the RSS that the process had
    when it called exec, i.e. the size of the parent that forked it, which would hide
    the child's own figures.
    """
    hwm = _proc_status_kib("VmHWM")
    if hwm is not None:
        return hwm
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB on Linux


def _reset_peak() -> bool:
    """Reset the resident high-water mark to the current RSS (Linux >= 4.0).

    Writing "5" to clear_refs resets VmHWM; check that it did, since a kernel may
    refuse the write or ignore it.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    hwm, rss = _proc_status_kib("VmHWM"), _proc_status_kib("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + 1024


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One measured call: spec["direction"] is "encode" or "decode".

    encode: reads spec["pixels"] (.npy), writes the stream to spec["stream"].
    decode: reads spec["stream"], then compares the result with spec["pixels"].
    """
    name, direction, device = spec["codec"], spec["direction"], spec.get("device")
    repeat = max(1, int(spec.get("repeat", 1)))
    encode, decode = codec_functions(name, device)
    tiny = _tiny_image()
    decode(encode(tiny))  # warm-up: loads the model / libraries outside the timing
    cuda = _is_l3c(name) and str(device or "").startswith("cuda")
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    if direction == "encode":
        arg: Any = np.load(spec["pixels"])
        call: Callable[[Any], Any] = encode
    else:
        arg = Path(spec["stream"]).read_bytes()
        call = decode
    gc.collect()
    per_call = _reset_peak()
    baseline = _proc_status_kib("VmRSS") or _peak_rss_kib()
    seconds = float("inf")
    out: Any = None
    for _ in range(repeat):
        out = None  # free the previous result before the next call, as a caller would
        t0 = time.perf_counter()
        out = call(arg)
        seconds = min(seconds, time.perf_counter() - t0)
    # The kernel updates its high-water mark lazily (a heap that shrinks by brk does
    # not record the size it had), so it can read a little below the baseline that
    # was resident during the window; the true peak is at least that.
    peak = max(_peak_rss_kib(), baseline)
    result: dict[str, Any] = {
        "seconds": seconds,
        "baseline_rss_kib": baseline,
        "peak_rss_kib": peak,
        # "call": the peak of the timed calls alone; "process": the child's whole life
        "peak_scope": "call" if per_call else "process",
    }
    if cuda:
        import torch

        result["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / MIB
    if _is_l3c(name):
        import torch

        result["torch_threads"] = torch.get_num_threads()
    if direction == "encode":
        Path(spec["stream"]).write_bytes(out)
        result["bytes"] = len(out)
    else:
        decoded, original = np.asarray(out), np.load(spec["pixels"])
        exact = decoded.shape == original.shape and decoded.dtype == original.dtype
        exact = exact and bool(np.array_equal(decoded, original))
        result["exact"] = exact
        if not exact:
            if decoded.shape != original.shape or decoded.dtype != original.dtype:
                got, want = f"{decoded.dtype}{decoded.shape}", f"{original.dtype}{original.shape}"
                result["mismatch"] = f"decoded {got}, expected {want}"
            else:
                wrong = int(np.count_nonzero(decoded != original))
                result["mismatch"] = f"{wrong} of {original.size} sub-pixels differ"
    return result


def _worker_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    try:
        result = worker(spec)
    except Exception as e:  # reported to the parent as this job's error
        result = {"error": f"{type(e).__name__}: {e}"}
    Path(spec["result"]).write_text(json.dumps(result))
    return 0


def _run_child(spec: dict[str, Any], workdir: Path, timeout: float | None) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; its result, or {"error": ...}."""
    stem = f"{spec['image_index']}-{spec['codec']}-{spec['direction']}"
    spec_path, result_path = workdir / f"{stem}.spec.json", workdir / f"{stem}.result.json"
    spec = {**spec, "result": str(result_path)}
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ)
    # the child must import this same package even from an uninstalled checkout
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "pillow_l3c.bench", "--worker", str(spec_path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{spec['direction']} timed out after {timeout:g} s"}
    if result_path.exists():
        return json.loads(result_path.read_text())
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:]) or "no output"
    return {"error": f"{spec['direction']} worker exited with status {proc.returncode}: {tail}"}


# --------------------------------------------------------------------------- parent


@dataclass
class Result:
    """One (image, codec): sizes, times and memory of its encode and its decode."""

    image: str
    codec: str
    width: int
    height: int
    bytes: int | None = None
    bpsp: float | None = None
    encode_s: float | None = None
    decode_s: float | None = None
    encode_s_per_mp: float | None = None
    decode_s_per_mp: float | None = None
    encode_peak_mib: float | None = None
    encode_baseline_mib: float | None = None
    decode_peak_mib: float | None = None
    decode_baseline_mib: float | None = None
    exact: bool | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.exact is True

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def subpixels(self) -> int:
        return self.width * self.height * 3


def _measure(
    index: int,
    image: str,
    pixels: Path,
    shape: tuple[int, int],
    codec: str,
    workdir: Path,
    args: argparse.Namespace,
) -> Result:
    h, w = shape
    r = Result(image=image, codec=codec, width=w, height=h)
    base = {
        "image_index": index,
        "codec": codec,
        "pixels": str(pixels),
        "device": args.device,
        "stream": str(workdir / f"{index}.{codec}.bin"),
        "repeat": args.repeat,
    }
    timeout = args.timeout or None
    enc = _run_child({**base, "direction": "encode"}, workdir, timeout)
    if "error" in enc:
        r.error = f"encode: {enc['error']}"
        return r
    dec = _run_child({**base, "direction": "decode"}, workdir, timeout)
    Path(base["stream"]).unlink(missing_ok=True)
    r.bytes = enc["bytes"]
    r.bpsp = r.bytes * 8 / r.subpixels
    r.encode_s, r.encode_s_per_mp = enc["seconds"], enc["seconds"] / r.megapixels
    r.encode_peak_mib = enc["peak_rss_kib"] / 1024
    r.encode_baseline_mib = enc["baseline_rss_kib"] / 1024
    r.extra = {k: enc[k] for k in ("peak_scope", "gpu_peak_mib", "torch_threads") if k in enc}
    if "gpu_peak_mib" in enc:
        r.extra["encode_gpu_peak_mib"] = r.extra.pop("gpu_peak_mib")
    if "error" in dec:
        r.error = f"decode: {dec['error']}"
        return r
    r.decode_s, r.decode_s_per_mp = dec["seconds"], dec["seconds"] / r.megapixels
    r.decode_peak_mib = dec["peak_rss_kib"] / 1024
    r.decode_baseline_mib = dec["baseline_rss_kib"] / 1024
    if "gpu_peak_mib" in dec:
        r.extra["decode_gpu_peak_mib"] = dec["gpu_peak_mib"]
    r.exact = dec["exact"]
    if not r.exact:
        r.error = f"decode is not exact: {dec.get('mismatch', 'pixels differ')}"
    return r


def _summary(results: Sequence[Result], codecs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per codec aggregates over its exact results; ratios against PNG on shared images."""
    good = {c: {r.image: r for r in results if r.codec == c and r.ok} for c in codecs}
    out: dict[str, dict[str, Any]] = {}
    for c in codecs:
        rs = list(good[c].values())
        s: dict[str, Any] = {
            "label": codec_labels()[c],
            "images": len(rs),
            "errors": sum(1 for r in results if r.codec == c and not r.ok),
        }
        if rs:
            mp = sum(r.megapixels for r in rs)
            s |= {
                "bpsp_mean": float(np.mean([r.bpsp for r in rs])),
                "bpsp_total": sum(r.bytes * 8 for r in rs) / sum(r.subpixels for r in rs),
                "encode_s_per_mp": sum(r.encode_s for r in rs) / mp,
                "decode_s_per_mp": sum(r.decode_s for r in rs) / mp,
                "encode_peak_mib": max(r.encode_peak_mib for r in rs),
                "encode_increment_mib": max(r.encode_peak_mib - r.encode_baseline_mib for r in rs),
                "encode_baseline_mib": max(r.encode_baseline_mib for r in rs),
                "decode_peak_mib": max(r.decode_peak_mib for r in rs),
                "decode_increment_mib": max(r.decode_peak_mib - r.decode_baseline_mib for r in rs),
                "decode_baseline_mib": max(r.decode_baseline_mib for r in rs),
            }
            shared = [i for i in good[c] if i in good.get("png", {})]
            if shared:
                mine = [good[c][i] for i in shared]
                png = [good["png"][i] for i in shared]
                s["vs_png"] = {
                    "images": len(shared),
                    "bits": sum(r.bytes for r in mine) / sum(r.bytes for r in png),
                    "encode_time": sum(r.encode_s for r in mine) / sum(r.encode_s for r in png),
                    "decode_time": sum(r.decode_s for r in mine) / sum(r.decode_s for r in png),
                }
        out[c] = s
    return out


def _format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with aligned columns: readable in a terminal, pastable in docs."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _ratio(s: dict[str, Any], key: str) -> str:
    v = s.get("vs_png", {}).get(key)
    return "-" if v is None else f"{v:.2f}x"


def summary_table(summary: dict[str, dict[str, Any]]) -> str:
    header = [
        "codec",
        "images",
        "bpsp mean",
        "bpsp all",
        "bits/PNG",
        "enc s/MP",
        "enc/PNG",
        "dec s/MP",
        "dec/PNG",
        "enc peak MiB",
        "enc +MiB",
        "dec peak MiB",
        "dec +MiB",
        "errors",
    ]
    rows = []
    for s in summary.values():
        rows.append(
            [
                s["label"],
                str(s["images"]),
                _f(s.get("bpsp_mean")),
                _f(s.get("bpsp_total")),
                _ratio(s, "bits"),
                _f(s.get("encode_s_per_mp"), 2),
                _ratio(s, "encode_time"),
                _f(s.get("decode_s_per_mp"), 2),
                _ratio(s, "decode_time"),
                _f(s.get("encode_peak_mib"), 0),
                _f(s.get("encode_increment_mib"), 0),
                _f(s.get("decode_peak_mib"), 0),
                _f(s.get("decode_increment_mib"), 0),
                str(s["errors"]),
            ]
        )
    return _format_table(header, rows)


def per_image_table(results: Sequence[Result]) -> str:
    header = [
        "image",
        "size",
        "codec",
        "bpsp",
        "enc s/MP",
        "dec s/MP",
        "enc peak (+) MiB",
        "dec peak (+) MiB",
        "exact",
    ]

    def mem(peak: float | None, base: float | None) -> str:
        return "-" if peak is None or base is None else f"{peak:.0f} (+{peak - base:.0f})"

    rows = [
        [
            Path(r.image).stem[:40],
            f"{r.width}x{r.height}",
            codec_labels()[r.codec],
            _f(r.bpsp),
            _f(r.encode_s_per_mp, 2),
            _f(r.decode_s_per_mp, 2),
            mem(r.encode_peak_mib, r.encode_baseline_mib),
            mem(r.decode_peak_mib, r.decode_baseline_mib),
            "yes" if r.exact else ("NO" if r.exact is False else "-"),
        ]
        for r in results
    ]
    return _format_table(header, rows)


def write_chart(summary: dict[str, dict[str, Any]], path: Path, title: str) -> bool:
    """bpsp against encode time, one labelled point per codec. False if nothing to plot.

    Uses matplotlib's object API with the Agg canvas, never pyplot, so that the global
    backend of a process that imported this module is left alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points = [
        (s["encode_s_per_mp"], s["bpsp_total"], s["label"])
        for s in summary.values()
        if s.get("bpsp_total") is not None
    ]
    if not points:
        return False
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rightmost = max(x for x, _, _ in points)
    for x, y, label in points:
        # the slowest codec's label goes to the left of its point, inside the axes
        left = x == rightmost and len(points) > 1
        x = max(x, 1e-4)  # a log axis cannot show 0
        ax.scatter([x], [y], s=40, zorder=3)
        ax.annotate(
            label,
            (x, y),
            xytext=(-6 if left else 6, 4),
            textcoords="offset points",
            ha="right" if left else "left",
            fontsize=9,
        )
    ax.set_xscale("log")
    ax.set_xlabel("encode seconds per megapixel (log scale)")
    ax.set_ylabel("bits per sub-pixel (all images)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(x=0.25, y=0.15)
    fig.savefig(path, dpi=120)
    return True


def find_images(folder: Path, limit: int = 0) -> list[Path]:
    paths = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    return paths[:limit] if limit > 0 else paths


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
        loaded: list[tuple[int, Path, Path, tuple[int, int]]] = []
        for i, path in enumerate(paths):
            try:
                with Image.open(path) as im:
                    pixels = np.asarray(im.convert("RGB"))
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
                image_errors[str(path)] = f"{type(e).__name__}: {e}"
                _note(f"error: {path}: cannot read: {e}")
                continue
            npy = workdir / f"{i}.npy"
            np.save(npy, pixels)
            loaded.append((i, path, npy, pixels.shape[:2]))
        jobs = [(item, c) for item in loaded for c in codecs]
        bar = tqdm(jobs, unit="job", file=sys.stderr, disable=args.quiet or not jobs)
        for (i, path, npy, shape), c in bar:
            bar.set_description(f"{c} {path.stem[:24]}")
            r = _measure(i, str(path), npy, shape, c, workdir, args)
            if r.error:
                _note(f"error: {path}: {codec_labels()[c]}: {r.error}")
            results.append(r)

    summary = _summary(results, codecs)
    if args.per_image and results:
        print(per_image_table(results))
        print()
    ok_images = len(loaded)
    total_mp = sum(h * w for _, _, _, (h, w) in loaded) / 1e6
    print(
        f"{ok_images} image(s), {total_mp:.2f} MP, from {folder}; L3C on {args.device}; "
        f"times are the best of {args.repeat}; +MiB is the peak over the child's baseline"
    )
    print(summary_table(summary))
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
            json.dumps(_report(args, codecs, skipped, image_errors, results, summary), indent=2)
            + "\n"
        )
        print(f"results: {args.json}")
    return 1 if errors else 0


def _report(
    args: argparse.Namespace,
    codecs: Sequence[str],
    skipped: dict[str, str],
    image_errors: dict[str, str],
    results: Sequence[Result],
    summary: dict[str, Any],
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "folder": str(args.folder),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": args.device,
        "repeat": args.repeat,
        "codecs": list(codecs),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "pillow": Image.__version__,
        "numpy": np.__version__,
    }
    try:
        from pillow_l3c import _model

        meta["l3c_model_id"] = _model.model_id().hex()
    except (OSError, ImportError):
        pass
    try:
        import imagecodecs

        meta["imagecodecs"] = imagecodecs.__version__
    except ImportError:
        pass
    return {
        "meta": meta,
        "skipped": skipped,
        "image_errors": image_errors,
        "results": [asdict(r) | {"ok": r.ok} for r in results],
        "summary": summary,
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"] and len(argv) == 2:
        return _worker_main(argv[1])
    parser = argparse.ArgumentParser(
        prog="python -m pillow_l3c.bench", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
