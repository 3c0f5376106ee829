"""What integer-exact prediction costs: the bundled exact model against a float model.

    python benchmarks/exact_cost.py ../shared/data/val \\
        --float-checkpoint weights/checkpoints/l3c-small-last.pt

Both models are run in the same process on the same images, alternating per image so
that both see the same machine load. Reports bpsp and encode/decode seconds per
megapixel of each (all cores, the codec's defaults) and their ratios; every decode is
checked against the original pixels. The float model is exported from the checkpoint
into a temporary file (``--float-model`` takes an exported file instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pillow_l3c import _codec, _model


def run(paths: list[Path], models: dict[str, Path]) -> dict[str, dict[str, float]]:
    totals = {name: {"bits": 0.0, "enc": 0.0, "dec": 0.0} for name in models}
    subpixels = 0
    for path in paths:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        subpixels += pixels.size
        for name, weights in models.items():
            os.environ[_model.WEIGHTS_ENV] = str(weights)
            _codec.encode(pixels[:8, :8])  # load the model outside the timing
            start = time.perf_counter()
            data = _codec.encode(pixels)
            middle = time.perf_counter()
            decoded = _codec.decode(data)[1]
            end = time.perf_counter()
            if not np.array_equal(decoded, pixels):
                sys.exit(f"{name}: {path.name} did not round-trip")
            totals[name]["bits"] += 8 * len(data)
            totals[name]["enc"] += middle - start
            totals[name]["dec"] += end - middle
        print(f"{path.name}: done", file=sys.stderr)
    megapixels = subpixels / 3e6
    return {
        name: {
            "bpsp": t["bits"] / subpixels,
            "enc_s_per_mp": t["enc"] / megapixels,
            "dec_s_per_mp": t["dec"] / megapixels,
        }
        for name, t in totals.items()
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--float-checkpoint", type=Path)
    p.add_argument("--float-model", type=Path, help="an exported float model file")
    p.add_argument("--exact-model", type=Path, default=_model.weights_path())
    args = p.parse_args()
    paths = sorted(q for q in args.folder.iterdir() if q.suffix.lower() in {".png", ".jpg"})
    with tempfile.TemporaryDirectory() as tmp:
        float_model = args.float_model
        if float_model is None:
            from pillow_l3c.network.export import export, load_checkpoint

            float_model = Path(tmp) / "float.pt"
            export(load_checkpoint(args.float_checkpoint), float_model, exact=False)
        results = run(paths, {"exact": args.exact_model, "float": float_model})
    e, f = results["exact"], results["float"]
    print(f"{len(paths)} images from {args.folder}")
    print("| model | bpsp | encode s/MP | decode s/MP |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['bpsp']:.4f} | {r['enc_s_per_mp']:.2f} | {r['dec_s_per_mp']:.2f} |")
    enc, dec = (e[k] / f[k] for k in ("enc_s_per_mp", "dec_s_per_mp"))
    print(f"| exact / float | {e['bpsp'] / f['bpsp']:.4f} | {enc:.2f}x | {dec:.2f}x |")


if __name__ == "__main__":
    main()
