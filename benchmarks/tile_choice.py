"""Does the per-tile choice of coder ever cost a photo bits? Bytes and encode time of
``coder="auto"`` (the default) against ``coder="learned"`` (every tile by the model, as
before the classical coder existed), per image, with the tiles each kind coded.

    python benchmarks/tile_choice.py ../shared/data/val [--json OUT]

Auto may only be smaller (a tile coded both ways keeps the shorter) and its method
table lists the classical coder only when a tile uses it, so on photos it should
equal learned to the byte, or undercut it where an edge strip is flat.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

import pillow_l3c
from pillow_l3c import _codec, _format
from pillow_l3c._suffixes import IMAGE_SUFFIXES


def tile_kinds(data: bytes) -> list[int]:
    """The method kind of every tile of a file (1 learned, 2 classical)."""
    fp = io.BytesIO(data)
    header, _ = _codec.read_header(fp)
    kinds = [m.kind for m in header.methods]
    return [kinds[_format.unpack_tile(_format.read_tile(fp)).method] for _ in header.tiles()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    rows = []
    for path in sorted(f for f in args.folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        row: dict[str, object] = {
            "image": path.name,
            "pixels": int(pixels.shape[0] * pixels.shape[1]),
        }
        for coder in ("learned", "auto"):
            start = time.perf_counter()
            data = pillow_l3c.encode(pixels, coder=coder)
            row[f"{coder}_s"] = round(time.perf_counter() - start, 2)
            row[f"{coder}_bytes"] = len(data)
            kinds = tile_kinds(data)
            row[f"{coder}_classical_tiles"] = kinds.count(2)
            row["tiles"] = len(kinds)
            assert np.array_equal(pillow_l3c.decode(data), pixels)
        rows.append(row)
        print(
            f"{path.name}: learned {row['learned_bytes']} B ({row['learned_s']} s), auto "
            f"{row['auto_bytes']} B ({row['auto_s']} s), classical tiles "
            f"{row['auto_classical_tiles']} of {row['tiles']}"
        )
    learned = sum(int(r["learned_bytes"]) for r in rows)
    auto = sum(int(r["auto_bytes"]) for r in rows)
    worse = [r["image"] for r in rows if int(r["auto_bytes"]) > int(r["learned_bytes"])]
    t_l = sum(float(r["learned_s"]) for r in rows)
    t_a = sum(float(r["auto_s"]) for r in rows)
    print(
        f"total: learned {learned} B, auto {auto} B ({100 * (auto / learned - 1):+.3f}%); "
        f"images where auto is larger: {worse or 'none'}; encode {t_l:.1f} s -> {t_a:.1f} s"
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "learned": learned, "auto": auto}, indent=1))


if __name__ == "__main__":
    main()
