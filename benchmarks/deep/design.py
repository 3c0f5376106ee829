"""The 16-bit design, measured: what each part of a 16-bit tile's coding is worth.

For every image of the 16-bit sets (``make_sets.py``), bits per sample of:

* ``plain``: the high byte by the learned model, the low bits stored as they are;
* ``predicted``: the high byte by the learned model, the low bits predicted and cut
  to the high byte's bin (``_low_bits``): the learned side of what the writer does;
* ``direct``: every bit by the low-bits coder (no model; as if the high byte had
  no bits): whether the model's share pays;
* ``file``: what ``pillow_l3c.encode`` writes (the coder chosen per tile, lookup
  tables, the used bits), the number users get;
* ``jxl-e9``: JPEG XL e9 on the same array, and, for 12-bit sets, ``jxl-e9/12``:
  JPEG XL told the image's real bit depth (``bitspersample``), the "same image stored
  as 12 bits" that the 12-bit target compares with.

    python benchmarks/deep/design.py [benchmarks/data/deep] [--sets raw12_right,...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imagecodecs
import numpy as np

import pillow_l3c
from pillow_l3c import _depth, _low_bits

COLUMNS = ("plain", "predicted", "direct", "file", "jxl-e9", "jxl-e9/12")


def measure(pixels: np.ndarray) -> dict[str, float]:
    """Bits of each variant for one uint16 image (H, W) or (H, W, bands)."""
    tile = pixels[:, :, None] if pixels.ndim == 2 else pixels
    plan, values = _depth.plan(tile)
    high = (values >> plan.low).astype(np.uint8)
    high_bits = 8 * len(
        pillow_l3c.encode(high.squeeze(axis=2) if high.shape[2] == 1 else high, coder="learned")
    )
    low = plan.low
    out = {
        "plain": high_bits + low * values.size,
        "predicted": high_bits + 8 * sum(map(len, _low_bits.encode(values, low))),
        "direct": 8 * sum(map(len, _low_bits.encode(values, plan.bits))),
        "file": 8 * len(pillow_l3c.encode(pixels)),
        "jxl-e9": 8 * len(imagecodecs.jpegxl_encode(pixels, lossless=True, effort=9, numthreads=2)),
    }
    real = int(pixels.max()).bit_length()
    if real < 16 and plan.shift == 0:
        told = imagecodecs.jpegxl_encode(
            pixels, lossless=True, effort=9, numthreads=2, bitspersample=max(real, 1)
        )
        out["jxl-e9/12"] = 8 * len(told)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path("benchmarks/data/deep"))
    parser.add_argument("--sets", default="dicom,scientific16,raw12_right,raw12_left,developed16")
    args = parser.parse_args()
    print("| set | samples | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for name in args.sets.split(","):
        totals: dict[str, float] = {}
        counted: dict[str, int] = {}  # samples of the images each variant has a figure for
        samples = 0
        for path in sorted((args.root / name).glob("*.png")):
            pixels = imagecodecs.png_decode(path.read_bytes())
            if pixels.dtype != np.uint16:
                continue
            for key, bits in measure(pixels).items():
                totals[key] = totals.get(key, 0) + bits
                counted[key] = counted.get(key, 0) + pixels.size
            samples += pixels.size
        cells = [f"{totals[c] / samples:.3f}" if counted.get(c) == samples else "" for c in COLUMNS]
        print(f"| {name} | {samples / 1e6:.2f} M | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
