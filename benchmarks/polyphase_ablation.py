"""What the polyphase codec's encoder-side choices buy, in coded bytes on a folder.

    python benchmarks/polyphase_ablation.py ../shared/data/val [--model poly-small]
        [--tiles 256,512]

For each tile size: bpsp with the per-stream scale adaptation (pillow_l3c/tile_coders/polyphase.py)
and without it (every offset 0), and the encode time of each, all in one process on
the same images; every file is decoded and compared.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pillow_l3c import _codec, _polyphase


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--model", default=None, help="a polyphase model (default: the default)")
    p.add_argument("--tiles", default="256,512")
    args = p.parse_args()
    paths = sorted(x for x in args.folder.iterdir() if x.suffix.lower() == ".png")
    images = []
    for path in paths:
        with Image.open(path) as im:
            images.append(np.asarray(im.convert("RGB")))
    megapixels = sum(a.shape[0] * a.shape[1] for a in images) / 1e6
    subpixels = sum(a.size for a in images)
    _codec.encode(images[0][:16, :16], model=args.model)  # load the model
    print(f"{len(images)} images, {megapixels:.2f} MP, model {args.model or 'default'}")
    print("| tile | adaptation | bpsp | encode s/MP |")
    print("|---|---|---|---|")
    for tile in (int(t) for t in args.tiles.split(",")):
        for adapt in (False, True):
            _polyphase.ADAPT = adapt
            total, start = 0, time.perf_counter()
            for a in images:
                data = _codec.encode(a, tile_size=tile, model=args.model)
                total += len(data)
                if not np.array_equal(_codec.decode(data)[1], a):
                    msg = "round trip is not exact"
                    raise SystemExit(msg)
            seconds = time.perf_counter() - start
            print(
                f"| {tile} | {'on' if adapt else 'off'} | {8 * total / subpixels:.4f} | "
                f"{seconds / megapixels:.2f} (with decode) |"
            )
    _polyphase.ADAPT = True


if __name__ == "__main__":
    main()
