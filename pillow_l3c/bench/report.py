"""What ``l3c bench`` prints and writes: aggregates, tables, the JSON report, the chart.

Aggregates are totals over totals (seconds over megapixels, bits over sub-pixels), so
larger images weigh more, as in the papers; tables are Markdown, so that a terminal's
output can be pasted into the docs unchanged.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pillow_l3c._bench_args import codec_labels
from pillow_l3c.bench.images import describe
from pillow_l3c.bench.jobs import Result


def _threads() -> int:
    from pillow_l3c.bench.codecs import baseline_threads

    return baseline_threads()


def summarize(results: Sequence[Result], codecs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per codec aggregates over its exact results; ratios against PNG on shared images.

    A result that is n/a (a codec without a mode for the image's depth) is counted
    apart ("na"), neither in the aggregates nor among the errors.
    """
    good = {c: {r.image: r for r in results if r.codec == c and r.ok} for c in codecs}
    out: dict[str, dict[str, Any]] = {}
    for c in codecs:
        rs = list(good[c].values())
        s: dict[str, Any] = {
            "label": codec_labels()[c],
            "images": len(rs),
            "errors": sum(1 for r in results if r.codec == c and r.failed),
        }
        na = [r.na for r in results if r.codec == c and r.na]
        if na:  # images it has no mode for (WebP on 16 bits): neither a number nor an error
            s |= {"na": len(na), "na_reason": na[0]}
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
    """One row per codec: bits, speed and memory, each also relative to PNG.

    PNG is the reference that every reader has, so each ratio answers "how much better
    than what I use now" on the images both coded.
    """
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
        # a codec that had no mode for any image says so where its bits would be
        bpsp_mean = s["na_reason"] if s.get("na") and not s["images"] else _f(s.get("bpsp_mean"))
        rows.append(
            [
                s["label"],
                str(s["images"]),
                bpsp_mean,
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
    """One row per image and codec, to see where a codec wins or loses (``--per-image``)."""
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

    def size(r: Result) -> str:
        deep = r.bits != 8 or r.channels != 3
        return f"{r.width}x{r.height}" + (f" {describe(r.channels, r.bits)}" if deep else "")

    rows = [
        [
            Path(r.image).stem[:40],
            size(r),
            codec_labels()[r.codec],
            r.na or _f(r.bpsp),
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
    """Plot bpsp against encode time, one labelled point per codec; False if none.

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


def json_report(
    args: argparse.Namespace,
    codecs: Sequence[str],
    skipped: dict[str, str],
    image_errors: dict[str, str],
    results: Sequence[Result],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Everything measured, with the machine and library versions that produced it.

    Figures without their machine cannot be compared later; the report carries both,
    so that a run's JSON can stand as the record the docs quote.
    """
    meta: dict[str, Any] = {
        "folder": str(args.folder),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": args.device,
        "repeat": args.repeat,
        "codecs": list(codecs),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "threads_per_codec": _threads(),
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
