"""Plot and tabulate a training run's log.tsv (train and validation bpsp over time).

python benchmarks/learning_curve.py runs/NAME/log.tsv --png docs/learning_curve.png
    [--every 1000] [--reference "PNG=3.372" --reference "JPEG XL e7=2.477"]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def read_log(path: Path) -> list[dict[str, float]]:
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, map(float, ln.split("\t")), strict=True)) for ln in lines[1:]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("log", type=Path)
    p.add_argument("--png", type=Path)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--reference", action="append", default=[], help="NAME=BPSP line")
    args = p.parse_args()
    rows = read_log(args.log)
    print("| step | minutes | train bpsp | of which latents | val bpsp |")
    print("|---|---|---|---|---|")
    for r in rows:
        if int(r["step"]) % args.every == 0 or r is rows[-1] or int(r["step"]) == rows[0]["step"]:
            print(
                f"| {int(r['step'])} | {r['minutes']:.0f} | {r['train_bpsp']:.3f} | "
                f"{r['latent_bpsp']:.3f} | {r['val_bpsp']:.3f} |"
            )
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        minutes = [r["minutes"] for r in rows]
        ax.plot(minutes, [r["train_bpsp"] for r in rows], label="train (last period)")
        ax.plot(minutes, [r["val_bpsp"] for r in rows], label="validation crops")
        for ref in args.reference:
            name, value = ref.split("=")
            ax.axhline(float(value), linestyle="--", linewidth=1, color="grey")
            ax.text(minutes[-1], float(value), name, va="bottom", ha="right", fontsize=8)
        ax.set_xlabel("minutes on a 2-core CPU")
        ax.set_ylabel("bits per sub-pixel")
        ax.set_title("L3C (small) training")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.png, dpi=100)


if __name__ == "__main__":
    main()
