"""Bytes of the classical tile coder against PNG, WebP m6, JPEG XL e9 and the learned model.

    python benchmarks/classical_sizes.py [--set DIR] [--photos DIR] [--learned] [--json OUT]

For each image of the synthetic set (benchmarks/synthetic/make_sets.py) it measures,
on the whole image: PNG (Pillow, default and ``optimize``), WebP lossless m6 q100 and
JPEG XL e9 lossless (both through imagecodecs, the ``bench`` extra: references only,
never used to write a file); and the classical coder (pillow_l3c.tile_coders.classical)
at tiles of 512, 1024 and 2048 and as one tile, per effort, with its encode time.
With ``--learned`` it also codes every 512 tile with the learned model (about a
second a tile on a CPU) and records per tile: learned bytes (its tile section, as
``_codec.write`` writes it), classical bytes and the features
``prefers_classical`` looks at, for the synthetic set and for the photos of
``--photos`` (default shared/data/val: judging only, never tuning on it... the
thresholds were set on the synthetic set and checked on val).

P images are coded by the classical coder as their index plane and by the references
as RGB(A); mode-1 images as their 0/1 plane and as L (0/255).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from pillow_l3c.tile_coders import classical
from pillow_l3c.tile_coders.base import EncodeOptions

ROOT = Path(__file__).resolve().parents[1]
EFFORTS = (1, 3, 5, 7, 9)
TILES = (512, 1024, 2048, 0)  # 0: the whole image as one tile


def planes(img: Image.Image) -> tuple[np.ndarray, str, np.ndarray]:
    """(pixels for the classical coder, its mode, pixels for the references)."""
    if img.mode == "P":
        idx = np.asarray(img)[:, :, None]
        ref = img.convert("RGBA" if "transparency" in img.info else "RGB")
        return idx, "P", np.asarray(ref)
    if img.mode == "1":
        return np.asarray(img).astype(np.uint8)[:, :, None], "1", np.asarray(img.convert("L"))
    img = img.convert("RGBA" if "A" in img.mode else "RGB")
    arr = np.asarray(img)
    return arr, img.mode, arr


def tiles_of(pixels: np.ndarray, size: int = 512) -> Iterator[tuple[int, int, np.ndarray]]:
    """(x, y, tile) of each ``size`` tile as the codec cuts them (0: the whole image)."""
    h, w = pixels.shape[:2]
    size = size or max(h, w)
    for y in range(0, h, size):
        for x in range(0, w, size):
            yield x, y, np.ascontiguousarray(pixels[y : y + size, x : x + size])


def references(img: Image.Image, ref: np.ndarray) -> dict[str, int]:
    import imagecodecs

    out = {}
    kw = {"transparency": img.info["transparency"]} if "transparency" in img.info else {}
    for name, opt in (("png", False), ("png_opt", True)):
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=opt, **kw)
        out[name] = buf.tell()
    rgb = np.repeat(ref[:, :, None], 3, axis=2) if ref.ndim == 2 else ref  # WebP has no grey
    out["webp_m6"] = len(imagecodecs.webp_encode(rgb, level=100, lossless=True, method=6))
    out["jxl_e9"] = len(imagecodecs.jpegxl_encode(ref, effort=9, distance=0, lossless=True))
    return out


def classical_sizes(pixels: np.ndarray, mode: str, efforts=EFFORTS) -> dict[str, list[float]]:
    coder = classical.ClassicalCoder()
    out = {}
    for tile in TILES:
        if tile and tile >= max(pixels.shape[:2]) and tile != TILES[0]:
            continue  # the same as the whole image
        for e in efforts:
            t = time.perf_counter()
            n = sum(
                len(s[0])
                for s in (
                    coder.encode_tile(p, mode, EncodeOptions(effort=e))
                    for _, _, p in tiles_of(pixels, tile)
                )
            )
            out[f"t{tile or 'whole'}_e{e}"] = [n, time.perf_counter() - t]
    return out


def features(pixels: np.ndarray) -> dict[str, float]:
    from pillow_l3c.tile_coders.classical import tile_features

    return tile_features(pixels)


def learned_tiles(pixels: np.ndarray, mode: str, name: str, kind: str) -> list[dict]:
    """Per 512 tile: learned bytes, classical bytes (effort 1 and 9), features."""
    from pillow_l3c import _codec

    coder = classical.ClassicalCoder()
    rows = []
    for x, y, tile in tiles_of(pixels):
        t = time.perf_counter()
        learned = _codec.code_tile(tile, mode, _codec.LEARNED, EncodeOptions()).size
        lt = time.perf_counter() - t
        c1 = len(coder.encode_tile(tile, mode, EncodeOptions(effort=1))[0])
        c9 = len(coder.encode_tile(tile, mode, EncodeOptions(effort=9))[0])
        row = {"image": name, "kind": kind, "x": x, "y": y, "h": tile.shape[0]}
        row.update(w=tile.shape[1], learned=learned, learned_s=lt)
        row.update(classical_e1=c1, classical_e9=c9, **features(tile))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=ROOT / "benchmarks" / "data" / "synthetic")
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "val")
    ap.add_argument("--learned", action="store_true", help="also code 512 tiles with the model")
    ap.add_argument("--no-sizes", action="store_true", help="skip the whole-image table")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    result: dict = {"images": {}, "tiles": []}
    for path in sorted(args.set.glob("*.png")):
        with Image.open(path) as img:
            img.load()
            pixels, mode, ref = planes(img)
            if not args.no_sizes:
                row = {"mode": mode, "size": list(img.size), **references(img, ref)}
                row.update(classical_sizes(pixels, mode))
                result["images"][path.stem] = row
                print(
                    path.stem,
                    {k: (v[0] if isinstance(v, list) else v) for k, v in row.items()},
                    flush=True,
                )
            if args.learned:
                lmode = {"P": "RGBA" if ref.shape[-1:] == (4,) else "RGB", "1": "L"}.get(mode, mode)
                lpix = ref if mode in ("P", "1") else pixels
                lpix = lpix[:, :, None] if lpix.ndim == 2 else lpix
                # the learned model codes P as RGB(A) and 1 as L; the classical coder the plane
                for r, cls_row in zip(
                    learned_tiles(lpix, lmode, path.stem, "synthetic"),
                    learned_tiles_classical(pixels, mode),
                    strict=True,
                ):
                    r.update(cls_row)
                    result["tiles"].append(r)
                print(
                    path.stem,
                    "learned",
                    sum(r["learned"] for r in result["tiles"] if r["image"] == path.stem),
                    flush=True,
                )
    if args.learned:
        for path in sorted(args.photos.glob("*.png")):
            with Image.open(path) as img:
                arr = np.asarray(img.convert("RGB"))
            rows = learned_tiles(arr, "RGB", path.stem, "photo")
            result["tiles"] += rows
            print(
                path.stem,
                "learned",
                sum(r["learned"] for r in rows),
                "classical",
                sum(r["classical_e9"] for r in rows),
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


def learned_tiles_classical(pixels: np.ndarray, mode: str) -> list[dict]:
    """Classical bytes and features per 512 tile of the coder's own plane (P, 1)."""
    coder = classical.ClassicalCoder()
    return [
        {
            "classical_e1": len(coder.encode_tile(tile, mode, EncodeOptions(effort=1))[0]),
            "classical_e9": len(coder.encode_tile(tile, mode, EncodeOptions(effort=9))[0]),
            "mode": mode,
            **features(tile),
        }
        for _, _, tile in tiles_of(pixels)
    ]


if __name__ == "__main__":
    sys.exit(main())
