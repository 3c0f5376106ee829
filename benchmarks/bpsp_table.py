"""bpsp of L3C against PNG, WebP lossless, JPEG 2000 and JPEG XL, in one run.

    python benchmarks/bpsp_table.py DIR [--out results.md] [--limit N]

Every codec codes the same RGB pixels; every result is decoded again and compared
bit for bit (a lossless codec that is not is an error, not a number). The totals are
bits over sub-pixels of the whole folder, so large images weigh more, as in the
papers. L3C's encode and decode times are reported per megapixel on this machine.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from pathlib import Path

import imagecodecs
import numpy as np
from PIL import Image

import pillow_l3c

Codec = tuple[Callable[[np.ndarray], bytes], Callable[[bytes], np.ndarray]]


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _pil_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


CODECS: dict[str, Codec] = {
    "L3C": (pillow_l3c.encode, pillow_l3c.decode),
    "PNG (optimize)": (_png, _pil_decode),
    "WebP lossless (m6)": (
        lambda a: imagecodecs.webp_encode(a, lossless=True, method=6, level=100),
        imagecodecs.webp_decode,
    ),
    "JPEG 2000 (mct)": (
        lambda a: imagecodecs.jpeg2k_encode(a, reversible=True, mct=True),
        imagecodecs.jpeg2k_decode,
    ),
    "JPEG XL (e7)": (
        lambda a: imagecodecs.jpegxl_encode(a, lossless=True, effort=7),
        imagecodecs.jpegxl_decode,
    ),
    "JPEG XL (e9)": (
        lambda a: imagecodecs.jpegxl_encode(a, lossless=True, effort=9),
        imagecodecs.jpegxl_decode,
    ),
}


def measure(pixels: np.ndarray, codec: Codec) -> tuple[int, float, float]:
    encode, decode = codec
    t0 = time.perf_counter()
    data = encode(pixels)
    t1 = time.perf_counter()
    out = decode(data)
    t2 = time.perf_counter()
    if not np.array_equal(np.asarray(out), pixels):
        msg = "decoded pixels differ from the input"
        raise AssertionError(msg)
    return len(data), t1 - t0, t2 - t1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, help="also write the table (Markdown) here")
    p.add_argument("--limit", type=int, default=0, help="first N images only")
    args = p.parse_args()
    paths = sorted(q for q in args.folder.iterdir() if q.suffix.lower() in {".png", ".jpg", ".ppm"})
    if args.limit:
        paths = paths[: args.limit]
    pillow_l3c.encode(np.zeros((8, 8, 3), np.uint8))  # load the model outside the timings
    names = list(CODECS)
    bits = dict.fromkeys(names, 0)
    seconds = {n: [0.0, 0.0] for n in names}
    subpixels = 0
    rows = []
    for path in paths:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        n = pixels.size
        subpixels += n
        row = [path.stem[:40], f"{pixels.shape[1]}x{pixels.shape[0]}"]
        for name in names:
            size, enc, dec = measure(pixels, CODECS[name])
            bits[name] += size * 8
            seconds[name][0] += enc
            seconds[name][1] += dec
            row.append(f"{size * 8 / n:.3f}")
        rows.append(row)
        print(" | ".join(row), flush=True)
    mp = subpixels / 3 / 1e6
    lines = ["| image | size | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines.append(
        "| **all** | | " + " | ".join(f"**{bits[n] / subpixels:.3f}**" for n in names) + " |"
    )
    lines.append(
        "| encode s/MP | | " + " | ".join(f"{seconds[n][0] / mp:.2f}" for n in names) + " |"
    )
    lines.append(
        "| decode s/MP | | " + " | ".join(f"{seconds[n][1] / mp:.2f}" for n in names) + " |"
    )
    table = "\n".join(lines)
    print()
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
