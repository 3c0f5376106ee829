"""Plot and tabulate training runs' log.tsv files (validation bpsp over time), side by side.

python benchmarks/learning_curve.py "L3C small=weights/checkpoints/l3c-small-log.tsv" \
    "poly-small=weights/checkpoints/poly-small-log.tsv" --png docs/learning_curve.png \
    [--every 1000] [--reference "PNG=3.372" --reference "JPEG XL e7=2.477"]

Each argument is LABEL=PATH (or a bare path). Both families' logs have step, minutes,
train_bpsp and val_bpsp columns (L3C's also latent_bpsp).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def read_log(path: Path) -> list[dict[str, float]]:
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, map(float, ln.split("\t")), strict=True)) for ln in lines[1:]]


def _table(label: str, rows: list[dict[str, float]], every: int) -> None:
    print(f"\n{label}\n")
    print("| step | minutes | train bpsp | val bpsp |")
    print("|---|---|---|---|")
    for r in rows:
        if int(r["step"]) % every == 0 or r is rows[-1] or r is rows[0]:
            print(
                f"| {int(r['step'])} | {r['minutes']:.0f} | {r['train_bpsp']:.3f} | "
                f"{r['val_bpsp']:.3f} |"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("logs", nargs="+", help="LABEL=PATH of a log.tsv")
    p.add_argument("--png", type=Path)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--reference", action="append", default=[], help="NAME=BPSP line")
    args = p.parse_args()
    runs = []
    for item in args.logs:
        label, _, path = item.rpartition("=")
        runs.append((label or Path(path).parent.name, read_log(Path(path))))
    for label, rows in runs:
        _table(label, rows, args.every)
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        end = max(r["minutes"] for _, rows in runs for r in rows)
        for label, rows in runs:
            ax.plot([r["minutes"] for r in rows], [r["val_bpsp"] for r in rows], label=label)
        for ref in args.reference:
            name, value = ref.split("=")
            ax.axhline(float(value), linestyle="--", linewidth=1, color="grey")
            ax.text(end, float(value), name, va="bottom", ha="right", fontsize=8)
        ax.set_xlabel("minutes on the 2-core CPU")
        ax.set_ylabel("bpsp, 128x128 centre crops of val")
        ax.set_title("Validation bpsp while training")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.png, dpi=100)


if __name__ == "__main__":
    main()
