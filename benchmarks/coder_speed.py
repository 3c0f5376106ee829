"""Symbols per second of the rANS coder, encode and decode, on one core.

    python benchmarks/coder_speed.py [--symbols 4000000]

Distributions are realistic for 8-bit photos: every symbol has its own peaked
(discretized logistic) CDF over 256 symbols at 16-bit precision. Two cases: explicit
CDF rows (the table coder) and integer logistic mixtures with K=5 (what the codec
uses; each CDF value is computed on demand), also measured with K=10 (the
published L3C model's).
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

from pillow_l3c import _coder


def peaked_case(n: int, rng: np.random.Generator, k: int = 5) -> tuple[np.ndarray, ...]:
    centre = rng.uniform(20, 235, (n, 1))
    w = rng.integers(1, 4096 // k, (n, k))
    w = w * 4096 // w.sum(1, keepdims=True)
    w[:, 0] += 4096 - w.sum(1)
    w = w.astype(np.int32)
    mu = ((centre + rng.normal(0, 2, (n, k))) * 256).astype(np.int32)
    inv = (4096 / rng.uniform(0.5, 4, (n, k))).astype(np.int32)
    return w, mu, inv


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def sample(w: np.ndarray, mu: np.ndarray, inv: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Symbols drawn from each symbol's own distribution (chunked: rows cost 1 KiB)."""
    out = []
    for i in range(0, len(w), 100_000):
        cdf = _coder.mixture_cdf(w[i : i + 100_000], mu[i : i + 100_000], inv[i : i + 100_000], 256)
        u = rng.integers(0, 1 << 16, len(cdf))
        out.append((cdf[:, 1:] <= u[:, None]).sum(1))
    return np.concatenate(out).astype(np.int32)


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:6.1f} M symbols/s"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--symbols", type=int, default=2_000_000)
    p.add_argument(
        "--table-symbols",
        type=int,
        default=250_000,
        help="symbols of the table case (its rows take 1 KiB each)",
    )
    args = p.parse_args()
    n, nt = args.symbols, args.table_symbols
    rng = np.random.default_rng(0)
    w, mu, inv = peaked_case(n, rng)
    symbols = sample(w, mu, inv, rng)
    entropy = 0.0

    mdata = _coder.encode_mixture(symbols, w, mu, inv, 256)
    t_enc = best_of(lambda: _coder.encode_mixture(symbols, w, mu, inv, 256))
    t_dec = best_of(lambda: _coder.decode_mixture(mdata, w, mu, inv, 256))
    print(
        "logistic-mixture coder (what the codec uses: K=5, CDF computed in the coder),",
        f"{n} symbols:",
    )
    print(
        f"  encode {rate(n, t_enc)}, decode {rate(n, t_dec)}, {len(mdata) * 8 / n:.3f} bits/symbol"
    )

    # Its own generator, so that the K=5 case above stays the same data as before.
    rng10 = np.random.default_rng(1)
    w10, mu10, inv10 = peaked_case(n, rng10, k=10)
    symbols10 = sample(w10, mu10, inv10, rng10)
    data10 = _coder.encode_mixture(symbols10, w10, mu10, inv10, 256)
    t_enc = best_of(partial(_coder.encode_mixture, symbols10, w10, mu10, inv10, 256))
    t_dec = best_of(partial(_coder.decode_mixture, data10, w10, mu10, inv10, 256))
    print(f"logistic-mixture coder with K=10 (the published model's), {n} symbols:")
    print(
        f"  encode {rate(n, t_enc)}, decode {rate(n, t_dec)}, {len(data10) * 8 / n:.3f} bits/symbol"
    )
    del w10, mu10, inv10, symbols10, data10

    cdf = _coder.mixture_cdf(w[:nt], mu[:nt], inv[:nt], 256)
    sym = symbols[:nt]
    data = _coder.encode_cdf(sym, cdf)
    t_enc = best_of(lambda: _coder.encode_cdf(sym, cdf))
    t_dec = best_of(lambda: _coder.decode_cdf(data, cdf, nt))
    freq = cdf[np.arange(nt), sym + 1] - cdf[np.arange(nt), sym]
    entropy = float(np.sum(16 - np.log2(freq))) / nt
    print(f"CDF-table coder, one 257-entry row per symbol ({nt} symbols, rows not cache-resident):")
    print(
        f"  encode {rate(nt, t_enc)}, decode {rate(nt, t_dec)}, "
        f"{len(data) * 8 / nt:.4f} bits/symbol (ideal {entropy:.4f})"
    )


if __name__ == "__main__":
    main()
