"""The low bits of 16-bit samples, coded given their high byte (docs/FORMAT.md, "16-bit").

A 16-bit tile is split (``_depth``) into its high byte, which any tile coder codes as
an 8-bit image, and ``k`` low bits (1 to 8) per sample, which this module codes with
the whole high byte known. Each sample's value v = hi * 2^k + lo is predicted from
neighbours whose full values are already known, and its low bits are coded with a
logistic around that prediction **cut to the sample's own high-byte bin**: knowing
the high byte confines v to 2^k values, and the cut keeps every bit of that
knowledge (a logistic folded at the bin's edges instead costs up to a bit a sample
where noise is wider than the bin, as in a noisy 16-bit photo).

Order, the decoder's: the samples [::8, ::8] stored as plain k-bit numbers (one
stream), then for h = 4, 2, 1 the centres of the known grid of spacing 2h (predicted
from their four diagonal neighbours), then its edges (from their four direct
neighbours). Low bits wider than four are coded four at a time, high ones first, each
cut to the bin that the bits before them leave: one stream per stage and group of
four bits, each starting with a byte: the index of its scale multiplier (``SCALES``,
which the encoder fits to the stream) or ``STORED`` when the bits are stored plain.

Every number here is an integer and every CDF comes from the coder's integer
mixture CDF (``_coder.mixture_cdf``), so every machine computes the same.
"""

from __future__ import annotations

import numpy as np

from pillow_l3c._constants import PRECISION

GRID = 8  # the first stage's spacing
STEPS = (4, 2, 1)
GROUP_BITS = 4  # low bits coded per pass
STORED = 0xFF
# Scale multipliers (fixed integers: no float here).
SCALES = (  # in 1/256 of (activity + 2): 2^(i/4) / 32, from 1/32 to 2
    8, 10, 11, 13, 16, 19, 23, 27, 32, 38, 45, 54, 64, 76, 91, 108,
    128, 152, 181, 215, 256, 304, 362, 431, 512,
)  # fmt: skip
SEARCH_SAMPLE = 8  # the scale is fitted on every 8th symbol of a stream
CHUNK = 1 << 15  # CDF rows made at a time
_MEAN_BITS = 8  # the coder's means are in 1/256 of a symbol
_INV_BITS = 12  # its inverse scales in 1/4096
_MAX_INV = 1 << 20
_MAX_MEAN = 1 << 28


def groups(k: int) -> list[int]:
    """The widths of the passes that code ``k`` low bits, high bits first."""
    out = [GROUP_BITS] * (k // GROUP_BITS)
    return [*out, k % GROUP_BITS] if k % GROUP_BITS else out


def stream_count(k: int) -> int:
    """Streams of a tile's ``k`` low bits (0 for none)."""
    return 0 if k == 0 else 1 + 2 * len(STEPS) * len(groups(k))


# --- plain storage ---------------------------------------------------------------------


def pack_plain(values: np.ndarray, bits: int) -> bytes:
    """``values`` (< 2^bits) as ``bits``-bit numbers, most significant bit first."""
    flat = values.reshape(-1).astype(np.uint16)
    planes = (flat[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.uint16)) & 1
    return np.packbits(planes.astype(np.uint8).reshape(-1)).tobytes()


def unpack_plain(data: bytes, bits: int, count: int) -> np.ndarray:
    """``count`` ``bits``-bit numbers of ``pack_plain``; ValueError if the length is wrong."""
    if len(data) != (count * bits + 7) // 8:
        msg = f"a stored stream of {count} {bits}-bit numbers has {len(data)} bytes"
        raise ValueError(msg)
    planes = np.unpackbits(np.frombuffer(data, np.uint8), count=count * bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.int64)
    return planes.reshape(count, bits).astype(np.int64) @ weights


# --- prediction ------------------------------------------------------------------------

Grid = tuple[np.ndarray, np.ndarray]  # row and column indices of a stage's samples


def _near(index: np.ndarray, step: int, size: int) -> list[np.ndarray] | None:
    """The indices 3 ``step``, ``step`` before and ``step``, 3 ``step`` after each of
    ``index`` along an axis of ``size``. A near one outside is reflected to the other
    side, a far one outside is the near one on its side; None where neither near one
    is inside (the axis is no longer than ``step``)."""
    near = [index - step, index + step]
    bad = [near[0] < 0, near[1] >= size]
    if np.any(bad[0] & bad[1]):
        return None
    near = [np.where(bad[0], near[1], near[0]), np.where(bad[1], near[0], near[1])]
    far = [index - 3 * step, index + 3 * step]
    far = [np.where(far[0] < 0, near[0], far[0]), np.where(far[1] >= size, near[1], far[1])]
    return [far[0], near[0], near[1], far[1]]


def stages(height: int, width: int) -> list[tuple[int, list[Grid]]]:
    """Each coded stage's spacing ``h`` and sample grids, in coding order: for h = 4,
    2, 1 the centres of the known grid of spacing 2h, then its edges (the midpoints
    along its rows, then along its columns). Empty grids are left out."""
    out = []
    for h in STEPS:
        step = 2 * h
        rows, mid_rows = np.arange(0, height, step), np.arange(h, height, step)
        cols, mid_cols = np.arange(0, width, step), np.arange(h, width, step)
        for grids in ([(mid_rows, mid_cols)], [(rows, mid_cols), (mid_rows, cols)]):
            kept = [(r, c) for r, c in grids if r.size and c.size]
            out.append((h, kept))
    return out


def predict(v: np.ndarray, grid: Grid, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (in 1/256 of a value) and activity of the samples v[rows][:, cols], from
    two lines of known neighbours through each: a centre's diagonals, an edge's row
    (or column) of the known grid and the line of centres across it. Along each line,
    the cubic through the samples at -3h, -h, h and 3h; the two weighted by the other
    line's spread (the smoother direction counts more)."""
    rows, cols = grid
    height, width = v.shape[:2]
    near_r, near_c = _near(rows, h, height), _near(cols, h, width)

    def line(r: list[np.ndarray] | np.ndarray, c: list[np.ndarray] | np.ndarray) -> list:
        rs = r if isinstance(r, list) else [r] * 4
        cs = c if isinstance(c, list) else [c] * 4
        return [v[ri][:, ci] for ri, ci in zip(rs, cs, strict=True)]

    if rows[0] % (2 * h) and cols[0] % (2 * h):  # centres: rows and columns from h on
        assert near_r is not None
        assert near_c is not None
        lines = [line(near_r, near_c), line(near_r, near_c[::-1])]
    else:
        # An edge lies between two known samples along its row (or column), which
        # always exist, and between two centres across it, which may not.
        if cols[0] % (2 * h):  # between the known samples of a row
            assert near_c is not None
            first, other = line(rows, near_c), near_r and line(near_r, cols)
        else:
            assert near_r is not None
            first, other = line(near_r, cols), near_c and line(rows, near_c)
        lines = [first, other or first]
    (a1, n1, n2, a2), (b1, n3, n4, b2) = lines
    d12, d34 = np.abs(n1 - n2), np.abs(n3 - n4)
    c12 = 9 * (n1 + n2) - (a1 + a2)  # 16 times each line's cubic
    c34 = 9 * (n3 + n4) - (b1 + b2)
    mean = (16 * (c12 * (d34 + 1) + c34 * (d12 + 1))) // (d12 + d34 + 2)
    # The activity: how far the data is from what the cubics assume, which a linear
    # ramp does not raise (the spreads d12, d34 would: 7 bits of 8 on a 16-bit ramp,
    # 2.4 with this): the two lines' disagreement and their third differences.
    third = np.abs(a1 - 3 * n1 + 3 * n2 - a2) + np.abs(b1 - 3 * n3 + 3 * n4 - b2)
    return mean, np.abs(c12 - c34) // 16 + third // 4


# --- the distribution of one pass ------------------------------------------------------


def cdf_rows(
    mean: np.ndarray, activity: np.ndarray, base: np.ndarray, width: int, bits: int, scale: int
) -> np.ndarray:
    """The CDF rows (n, 2^bits + 1) of one pass: for each sample, the logistic of
    ``mean`` (1/256 of a value) and a scale ``SCALES[scale]``/256 * (activity + 2)
    values, cut to the sample's bin [base, base + 2^bits * width) and split into 2^bits
    sub-bins of ``width`` values. The coder's mixture CDF is taken over the bin with
    one extra symbol on either side, which take the mass outside it; the bin's own
    part is then stretched to the whole range (integers only: exact everywhere)."""
    from pillow_l3c import _coder

    symbols = 1 << bits
    shift = width.bit_length() - 1
    means = ((mean - (base << _MEAN_BITS) + 128) >> shift) + 128
    inv = (width << 20) // (SCALES[scale] * (activity + 2))
    means = np.clip(means, -_MAX_MEAN, _MAX_MEAN).astype(np.int32).reshape(-1, 1)
    inv = np.clip(inv, 0, _MAX_INV).astype(np.int32).reshape(-1, 1)
    rows = np.empty((means.size, symbols + 1), np.int32)
    weights = np.full((CHUNK, 1), 1 << 12, np.int32)
    for start in range(0, means.size, CHUNK):  # bounded temporaries, whatever the tile
        part = slice(start, start + CHUNK)
        m = means[part]
        raw = _coder.mixture_cdf(weights[: m.shape[0]], m, inv[part], symbols + 2, PRECISION)
        inner = raw[:, 1 : symbols + 2].astype(np.int64)
        inner -= inner[:, :1]
        total = inner[:, -1:].copy()  # at least 2^bits: every symbol has at least 1
        inner *= (1 << PRECISION) - symbols
        inner //= total
        inner += np.arange(symbols + 1)
        rows[part] = inner
    return rows


def _cost(rows: np.ndarray, symbols: np.ndarray) -> int:
    """Bytes the coder spends on ``symbols`` under ``rows``: the coder's own count, an
    integer, so that the encoder's choice (and the bytes it writes) is the same on
    every machine, where a float estimate could break a near tie differently."""
    from pillow_l3c import _coder

    return len(_coder.encode_cdf(np.ascontiguousarray(symbols), rows, PRECISION))


def _fit_scale(mean, activity, base, width, bits, symbols) -> int:
    """The index into ``SCALES`` that codes a sample of the pass shortest: every
    fourth, then the best one's neighbours."""
    pick = slice(None, None, SEARCH_SAMPLE) if symbols.size > 4096 else slice(None)
    args = mean[pick], activity[pick], base[pick], width, bits
    cost: dict[int, int] = {}

    def try_(i: int) -> float:
        if i not in cost:
            cost[i] = _cost(cdf_rows(*args, i), symbols[pick])
        return cost[i]

    best = min(range(0, len(SCALES), 4), key=try_)
    for i in (best - 2, best - 1, best + 1, best + 2):
        if 0 <= i < len(SCALES):
            try_(i)
    return min(cost, key=cost.__getitem__)


# --- a tile's low bits -----------------------------------------------------------------


def _stage_inputs(
    values: np.ndarray, h: int, grids: list[Grid]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, activity and values (as known so far) of a stage's samples, in its order."""
    predicted = [predict(values, g, h) for g in grids]
    empty = np.zeros(0, np.int64)
    mean = np.concatenate([m.reshape(-1) for m, _ in predicted] or [empty])
    act = np.concatenate([a.reshape(-1) for _, a in predicted] or [empty])
    full = np.concatenate([values[r][:, c].reshape(-1) for r, c in grids] or [empty])
    return mean, act, full


def encode(values: np.ndarray, k: int) -> list[bytes]:
    """The streams of the low ``k`` bits of ``values`` (h, w, bands) int64, whose high
    bits (values >> k) the decoder will know."""
    from pillow_l3c import _coder

    if k == 0:
        return []
    streams = [pack_plain(values[::GRID, ::GRID] & ((1 << k) - 1), k)]
    for h, grids in stages(*values.shape[:2]):
        mean, act, full = _stage_inputs(values, h, grids)
        remaining = k
        for bits in groups(k):
            width = 1 << (remaining - bits)
            base = (full >> remaining) << remaining
            symbols = ((full >> (remaining - bits)) & ((1 << bits) - 1)).astype(np.int32)
            stream = bytes([STORED]) + pack_plain(symbols, bits)
            if symbols.size:
                scale = _fit_scale(mean, act, base, width, bits, symbols)
                rows = cdf_rows(mean, act, base, width, bits, scale)
                coded = bytes([scale]) + _coder.encode_cdf(symbols, rows, PRECISION)
                stream = min(coded, stream, key=len)
            streams.append(stream)
            remaining -= bits
    return streams


def decode(streams: list[bytes], high: np.ndarray, k: int) -> np.ndarray:
    """The values (h, w, bands) int64 whose high bits are ``high`` (values >> k) and
    whose low ``k`` bits ``streams`` hold; ValueError for streams that do not fit."""
    from pillow_l3c import _coder

    values = high.astype(np.int64) << k
    if k == 0:
        return values
    first = values[::GRID, ::GRID]
    first |= unpack_plain(streams[0], k, first.size).reshape(first.shape)
    values[::GRID, ::GRID] = first
    at = 1
    for h, grids in stages(*values.shape[:2]):
        mean, act, full = _stage_inputs(values, h, grids)
        remaining = k
        for bits in groups(k):
            data = streams[at]
            at += 1
            if not data:
                msg = "an empty low-bits stream"
                raise ValueError(msg)
            if data[0] == STORED:
                symbols = unpack_plain(data[1:], bits, full.size)
            elif data[0] < len(SCALES):
                width = 1 << (remaining - bits)
                base = (full >> remaining) << remaining
                rows = cdf_rows(mean, act, base, width, bits, data[0])
                symbols = _coder.decode_cdf(data[1:], rows, full.size, PRECISION)
            else:
                msg = f"a low-bits stream names scale {data[0]}, of {len(SCALES)}"
                raise ValueError(msg)
            remaining -= bits
            full = full | (symbols.astype(np.int64) << remaining)
        start = 0
        for r, c in grids:
            size = r.size * c.size * values.shape[2]
            values[np.ix_(r, c)] = full[start : start + size].reshape(r.size, c.size, -1)
            start += size
    return values
