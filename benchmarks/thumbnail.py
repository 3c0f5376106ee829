"""A thumbnail of a 24-megapixel .l3c against its full decode, and how they differ.

    python benchmarks/thumbnail.py [--photos ../shared/data/train] [--json OUT]

The image is a 6000 x 4000 mosaic of the training photos (cropped side by side, as
the README's memory figure uses), coded once with the default model and cached in
benchmarks/data/. It measures, each in a fresh ``Image.open``: ``load()`` (the full
decode), ``thumbnail((256, 256))`` (which asks ``draft`` for a pyramid level first),
and the same thumbnail made from the full decode; and compares the two thumbnails
(PSNR, largest difference) and the drafted level with a box-filtered reduction of
the full image, because a level is decimated (every 2^k-th pixel), not filtered.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_l3c

ROOT = Path(__file__).resolve().parents[1]
SIZE = (6000, 4000)


def mosaic(photos: Path) -> np.ndarray:
    """A SIZE mosaic of the photos in ``photos``, row by row, each cropped to 750 x 500."""
    files = sorted(p for p in photos.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    cell = (750, 500)
    out = Image.new("RGB", SIZE)
    k = 0
    for top in range(0, SIZE[1], cell[1]):
        for left in range(0, SIZE[0], cell[0]):
            with Image.open(files[k % len(files)]) as im:
                photo = im.convert("RGB")
            if photo.width < cell[0] or photo.height < cell[1]:
                photo = photo.resize(cell)
            out.paste(photo.crop((0, 0, *cell)), (left, top))
            k += 1
    return np.asarray(out)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "train")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    cached = ROOT / "benchmarks" / "data" / "mosaic_24mp.l3c"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        cached.write_bytes(pillow_l3c.encode(mosaic(args.photos)))
        print(f"encoded the mosaic in {time.perf_counter() - start:.1f} s")
    pillow_l3c.decode(pillow_l3c.encode(np.zeros((64, 64, 3), np.uint8)))  # load the model

    start = time.perf_counter()
    with Image.open(cached) as im:
        im.load()
        full = im.copy()
    full_s = time.perf_counter() - start

    start = time.perf_counter()
    with Image.open(cached) as im:
        im.thumbnail((256, 256))
        drafted = im.copy()
    thumb_s = time.perf_counter() - start
    with Image.open(cached) as im:  # what thumbnail asks: its size times reducing_gap 2
        level = im.draft(None, (512, 512))
    step = round(SIZE[0] / level[1][2]) if level else 1

    from_full = full.copy()
    from_full.thumbnail((256, 256))
    thumb, reference = np.asarray(drafted), np.asarray(from_full)
    coarse = np.asarray(full)[::step, ::step]
    boxed = np.asarray(full.reduce(step))
    difference = np.abs(thumb.astype(np.int16) - reference.astype(np.int16))
    result = {
        "image": f"{SIZE[0]}x{SIZE[1]}",
        "bytes": cached.stat().st_size,
        "full_decode_s": round(full_s, 2),
        "thumbnail_s": round(thumb_s, 2),
        "thumbnail_share": round(thumb_s / full_s, 4),
        "draft_step": step,
        "thumbnail_psnr_vs_full_thumbnail_db": round(psnr(thumb, reference), 2),
        "thumbnail_max_diff": int(difference.max()),
        "level_psnr_vs_box_reduce_db": round(
            psnr(coarse[: boxed.shape[0], : boxed.shape[1]], boxed), 2
        ),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
