"""The C++ rANS coder through its binding: exact inverse, bounded on bad input."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from pillow_l3c import _coder
from pillow_l3c._constants import (
    INV_SCALE_FRACTION_BITS,
    MAX_ABS_MEAN,
    MAX_INV_SCALE,
    MEAN_FRACTION_BITS,
    PRECISION,
    SAMPLE_LEVELS,
    WEIGHT_BITS,
)
from pillow_l3c.errors import CorruptStreamError

RNG = np.random.default_rng(1234)


def cdf_from_probs(p: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Integer CDF rows with every symbol at least 1 (the torchac convention)."""
    n, alphabet = p.shape
    c = np.cumsum(p / p.sum(1, keepdims=True), axis=1)
    c = np.floor(c * ((1 << precision) - alphabet)).astype(np.int64)
    c = np.concatenate([np.zeros((n, 1), np.int64), c], axis=1) + np.arange(alphabet + 1)
    c[:, -1] = 1 << precision
    return c.astype(np.int32)


def sample(cdf: np.ndarray) -> np.ndarray:
    u = RNG.integers(0, cdf[:, -1], size=cdf.shape[0])
    return np.array(
        [np.searchsorted(row, v, side="right") - 1 for row, v in zip(cdf, u, strict=True)], np.int32
    )


def ideal_bits(symbols: np.ndarray, cdf: np.ndarray, precision: int = PRECISION) -> float:
    rows = cdf if cdf.shape[0] > 1 else np.repeat(cdf, len(symbols), 0)
    freq = rows[np.arange(len(symbols)), symbols + 1] - rows[np.arange(len(symbols)), symbols]
    return float(np.sum(precision - np.log2(freq)))


def roundtrip(symbols: np.ndarray, cdf: np.ndarray, precision: int = PRECISION) -> bytes:
    data = _coder.encode_cdf(symbols, cdf, precision)
    out = _coder.decode_cdf(data, cdf, len(symbols), precision)
    np.testing.assert_array_equal(out, symbols)
    return data


@pytest.mark.parametrize("alphabet", [2, 3, 25, 256, 4096, 65536])
def test_uniform_roundtrip_at_entropy(alphabet: int) -> None:
    n = 2000
    cdf = ((np.arange(alphabet + 1, dtype=np.int64) << PRECISION) // alphabet).astype(np.int32)[
        None
    ]
    symbols = RNG.integers(0, alphabet, n).astype(np.int32)
    data = roundtrip(symbols, cdf)
    # 16 bytes of final states are the whole overhead.
    assert len(data) * 8 <= ideal_bits(symbols, cdf) + 16 * 8 + 32


def test_peaked_per_symbol_distributions() -> None:
    n, alphabet = 5000, 256
    centre = RNG.integers(0, alphabet, (n, 1))
    p = np.exp(-np.abs(np.arange(alphabet)[None] - centre) / 1.5)
    cdf = cdf_from_probs(p)
    symbols = sample(cdf)
    data = roundtrip(symbols, cdf)
    assert len(data) * 8 == pytest.approx(ideal_bits(symbols, cdf), rel=0.01, abs=200)


def test_near_zero_probabilities_still_code() -> None:
    alphabet = 256
    p = np.full((1, alphabet), 1e-12)
    p[0, 7] = 1.0
    cdf = cdf_from_probs(p)
    assert np.all(np.diff(cdf[0]) >= 1)
    symbols = np.array([7] * 1000 + [0, 255, 128] + [7] * 10, np.int32)  # improbable ones too
    data = roundtrip(symbols, cdf)
    assert len(data) < 16 + 3 * 4 + 20  # the 1003 likely symbols cost almost nothing


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_and_empty_inputs(n: int) -> None:
    cdf = cdf_from_probs(np.ones((1, 4)))
    roundtrip(np.arange(n, dtype=np.int32) % 4, cdf)


def test_truncated_stream_raises() -> None:
    cdf = cdf_from_probs(RNG.random((1, 256)) + 0.01)
    symbols = RNG.integers(0, 256, 3000).astype(np.int32)
    data = _coder.encode_cdf(symbols, cdf)
    for cut in [0, 5, 15, 16, 17, len(data) // 2, len(data) - 4, len(data) - 1]:
        with pytest.raises(CorruptStreamError):
            _coder.decode_cdf(data[:cut], cdf, len(symbols))


def test_extended_stream_raises() -> None:
    cdf = cdf_from_probs(np.ones((1, 16)))
    symbols = RNG.integers(0, 16, 100).astype(np.int32)
    data = _coder.encode_cdf(symbols, cdf)
    with pytest.raises(CorruptStreamError, match="unread bytes"):
        _coder.decode_cdf(data + b"\0\0\0\0", cdf, len(symbols))


def test_random_garbage_never_crashes() -> None:
    cdf = cdf_from_probs(RNG.random((1, 256)) + 0.01)
    errors = 0
    for size in range(0, 200, 3):
        garbage = RNG.integers(0, 256, size, dtype=np.uint8).tobytes()
        try:
            _coder.decode_cdf(garbage, cdf, 100)
        except CorruptStreamError:
            errors += 1
    assert errors == len(range(0, 200, 3))  # the final-state check catches every one


def test_bit_flips_are_detected() -> None:
    cdf = cdf_from_probs(RNG.random((1, 256)) + 0.01)
    symbols = RNG.integers(0, 256, 500).astype(np.int32)
    data = bytearray(_coder.encode_cdf(symbols, cdf))
    caught = 0
    for i in range(0, len(data), 7):
        damaged = bytearray(data)
        damaged[i] ^= 1 << (i % 8)
        try:
            out = _coder.decode_cdf(bytes(damaged), cdf, len(symbols))
        except CorruptStreamError:
            caught += 1
        else:
            assert not np.array_equal(out, symbols) or bytes(damaged) == bytes(data)
    assert caught >= 0.9 * len(range(0, len(data), 7))


TOTAL = 1 << WEIGHT_BITS  # the weights of a mixture sum to this


def normalized_weights(w: np.ndarray) -> np.ndarray:
    """Integer weights summing to exactly 4096 per row, as the coder requires."""
    w = w * TOTAL // w.sum(1, keepdims=True)
    w[np.arange(len(w)), w.argmax(1)] += TOTAL - w.sum(1)
    return w.astype(np.int32)


def mixture(n: int, k: int, alphabet: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = normalized_weights(RNG.integers(1, TOTAL // k, (n, k)))
    mu = (RNG.uniform(-2, alphabet + 2, (n, k)) * (1 << MEAN_FRACTION_BITS)).astype(np.int32)
    inv = ((1 << INV_SCALE_FRACTION_BITS) / RNG.uniform(0.1, alphabet / 4, (n, k))).astype(
        np.int32
    ) + 1
    return w, mu, inv


@pytest.mark.parametrize(("alphabet", "k"), [(2, 1), (25, 5), (256, 10)])
def test_mixture_roundtrip_matches_its_cdf(alphabet: int, k: int) -> None:
    n = 3000
    w, mu, inv = mixture(n, k, alphabet)
    cdf = _coder.mixture_cdf(w, mu, inv, alphabet)
    assert np.all(cdf[:, 0] == 0)
    assert np.all(cdf[:, -1] == 1 << PRECISION)
    assert np.all(np.diff(cdf, axis=1) >= 1)
    symbols = sample(cdf)
    data = _coder.encode_mixture(symbols, w, mu, inv, alphabet)
    np.testing.assert_array_equal(_coder.decode_mixture(data, w, mu, inv, alphabet), symbols)
    # The mixture coder and the table coder agree bit for bit on the same CDF.
    assert data == _coder.encode_cdf(symbols, cdf)


def test_mixture_cdf_follows_the_logistic() -> None:
    levels = SAMPLE_LEVELS
    w = np.array([[TOTAL]], np.int32)
    mu = np.array([[100 << MEAN_FRACTION_BITS]], np.int32)  # centred on symbol 100
    inv = np.array([[(1 << INV_SCALE_FRACTION_BITS) // 2]], np.int32)  # scale 2 bins
    cdf = _coder.mixture_cdf(w, mu, inv, levels)[0]
    edges = np.arange(1, levels) - 0.5
    mass = (1 << PRECISION) - levels
    expected = 1 / (1 + np.exp(-(edges - 100) / 2)) * mass + np.arange(1, levels)
    np.testing.assert_allclose(cdf[1:-1], expected, atol=2)


def test_threads_code_independently() -> None:
    cdf = cdf_from_probs(RNG.random((1, 256)) + 0.01)
    inputs = [RNG.integers(0, 256, 20000).astype(np.int32) for _ in range(8)]
    results: list[bool] = [False] * 8

    def work(i: int) -> None:
        data = _coder.encode_cdf(inputs[i], cdf)
        results[i] = bool(np.array_equal(_coder.decode_cdf(data, cdf, len(inputs[i])), inputs[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results)


# --- checked arguments ------------------------------------------------------------------
#
# Every argument is checked before the coder reads it, and nothing is converted: each
# case is one call that must raise exactly this exception type with exactly this message.

CDF4 = cdf_from_probs(np.ones((1, 4)))  # [0, 16384, 32768, 49152, 65536]
SYM4 = np.array([0, 1, 2, 3], np.int32)
W = np.array([[2048, 2048]] * 4, np.int32)  # (n, K) = (4, 2)
MU = np.array([[100 << MEAN_FRACTION_BITS, 120 << MEAN_FRACTION_BITS]] * 4, np.int32)
INV = np.array([[2048, 1024]] * 4, np.int32)
STREAM4 = _coder.encode_cdf(SYM4, CDF4)


def with_entry(a: np.ndarray, index: tuple[int, ...], value: int) -> np.ndarray:
    """A copy of ``a`` with one entry changed."""
    out = a.copy()
    out[index] = value
    return out


def misaligned(a: np.ndarray) -> np.ndarray:
    """The same int32 values, one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, np.uint8)
    raw[1:] = np.frombuffer(a.tobytes(), np.uint8)
    out = np.frombuffer(raw.data, np.int32, offset=1).reshape(a.shape)
    assert not out.flags.aligned
    return out


def enc_cdf(symbols: object = SYM4, cdf: object = CDF4, precision: int = PRECISION) -> object:
    return _coder.encode_cdf(symbols, cdf, precision)  # type: ignore[arg-type]


def dec_cdf(
    data: object = STREAM4, cdf: object = CDF4, n: int = 4, precision: int = PRECISION
) -> object:
    return _coder.decode_cdf(data, cdf, n, precision)  # type: ignore[arg-type]


def enc_mix(
    symbols: object = SYM4,
    w: object = W,
    mu: object = MU,
    inv: object = INV,
    alphabet: int = SAMPLE_LEVELS,
    precision: int = PRECISION,
) -> object:
    return _coder.encode_mixture(symbols, w, mu, inv, alphabet, precision)  # type: ignore[arg-type]


def dec_mix(
    data: object = b"",
    w: object = W,
    mu: object = MU,
    inv: object = INV,
    alphabet: int = SAMPLE_LEVELS,
) -> object:
    return _coder.decode_mixture(data, w, mu, inv, alphabet)  # type: ignore[arg-type]


def mix_cdf(
    w: object = W, mu: object = MU, inv: object = INV, alphabet: int = SAMPLE_LEVELS
) -> object:
    return _coder.mixture_cdf(w, mu, inv, alphabet)  # type: ignore[arg-type]


I32 = "must have dtype int32, got"
SHAPE_NK = "; weights, means and inv_scales must share one shape (n, K)"
CONTIGUOUS = " must be C-contiguous (np.ascontiguousarray makes a copy)"
POSITIVE = ": every symbol needs a positive probability"

REFUSED: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    # dtype: exactly int32 in native byte order, never cast
    (
        "symbols list",
        lambda: enc_cdf([0, 1]),
        TypeError,
        "symbols must be a numpy.ndarray of dtype int32, got list",
    ),
    ("symbols int64", lambda: enc_cdf(SYM4.astype(np.int64)), TypeError, f"symbols {I32} int64"),
    ("symbols uint32", lambda: enc_mix(SYM4.astype(np.uint32)), TypeError, f"symbols {I32} uint32"),
    ("cdf float64", lambda: enc_cdf(cdf=CDF4.astype(np.float64)), TypeError, f"cdf {I32} float64"),
    (
        "cdf int16 on decode",
        lambda: dec_cdf(cdf=np.zeros((1, 5), np.int16)),
        TypeError,
        f"cdf {I32} int16",
    ),
    ("weights of 2048.7", lambda: enc_mix(w=W + 0.7), TypeError, f"weights {I32} float64"),
    (
        "means of 2^32 + 5",
        lambda: enc_mix(mu=with_entry(MU.astype(np.int64), (0, 0), 2**32 + 5)),
        TypeError,
        f"means {I32} int64",
    ),
    (
        "inv_scales big-endian",
        lambda: dec_mix(inv=INV.astype(">i4")),
        TypeError,
        f"inv_scales {I32} >i4",
    ),
    (
        "inv_scales float32",
        lambda: mix_cdf(inv=INV.astype(np.float32)),
        TypeError,
        f"inv_scales {I32} float32",
    ),
    (
        "weights tuple",
        lambda: mix_cdf(w=((4096,),)),
        TypeError,
        "weights must be a numpy.ndarray of dtype int32, got tuple",
    ),
    # ndim
    (
        "symbols 2-D",
        lambda: enc_cdf(SYM4.reshape(2, 2)),
        ValueError,
        "symbols must have shape (n,), got shape (2, 2)",
    ),
    (
        "cdf 1-D",
        lambda: enc_cdf(cdf=CDF4[0]),
        ValueError,
        "cdf must have shape (rows, alphabet + 1), got shape (5,)",
    ),
    (
        "weights 1-D",
        lambda: enc_mix(w=W[:, 0]),
        ValueError,
        "weights must have shape (n, K), got shape (4,)",
    ),
    (
        "means 3-D",
        lambda: mix_cdf(mu=MU[None]),
        ValueError,
        "means must have shape (n, K), got shape (1, 4, 2)",
    ),
    # layout: C-contiguous and aligned, or refused
    (
        "symbols strided",
        lambda: enc_cdf(np.arange(8, dtype=np.int32)[::2]),
        ValueError,
        f"symbols{CONTIGUOUS}",
    ),
    ("cdf reversed", lambda: dec_cdf(cdf=CDF4[:, ::-1]), ValueError, f"cdf{CONTIGUOUS}"),
    (
        "weights Fortran order",
        lambda: enc_mix(w=np.asfortranarray(W)),
        ValueError,
        f"weights{CONTIGUOUS}",
    ),
    (
        "inv_scales transposed",
        lambda: mix_cdf(inv=np.ascontiguousarray(INV.T).T),
        ValueError,
        f"inv_scales{CONTIGUOUS}",
    ),
    (
        "symbols misaligned",
        lambda: enc_cdf(misaligned(SYM4)),
        ValueError,
        "symbols must be aligned to 4 bytes",
    ),
    (
        "means misaligned",
        lambda: dec_mix(mu=misaligned(MU)),
        ValueError,
        "means must be aligned to 4 bytes",
    ),
    # shapes that must agree
    (
        "cdf without symbols",
        lambda: enc_cdf(cdf=np.zeros((1, 1), np.int32)),
        ValueError,
        (
            "cdf must have shape (rows, alphabet + 1) with an alphabet of at least 1 symbol,"
            " got shape (1, 1)"
        ),
    ),
    (
        "cdf rows",
        lambda: enc_cdf(SYM4[:3], np.repeat(CDF4, 2, 0)),
        ValueError,
        "cdf has 2 rows for 3 symbols; it must have 1 row or one row per symbol",
    ),
    (
        "cdf rows on decode",
        lambda: dec_cdf(cdf=np.repeat(CDF4, 3, 0)),
        ValueError,
        "cdf has 3 rows for 4 symbols; it must have 1 row or one row per symbol",
    ),
    (
        "means K",
        lambda: enc_mix(mu=MU[:, :1].copy()),
        ValueError,
        f"means has shape (4, 1) but weights has shape (4, 2){SHAPE_NK}",
    ),
    (
        "inv_scales n",
        lambda: dec_mix(inv=INV[:3]),
        ValueError,
        f"inv_scales has shape (3, 2) but weights has shape (4, 2){SHAPE_NK}",
    ),
    (
        "no components",
        lambda: mix_cdf(*(np.zeros((4, 0), np.int32),) * 3),
        ValueError,
        "mixtures must number 1 .. 64, got 0",
    ),
    (
        "65 components",
        lambda: mix_cdf(*(np.zeros((1, 65), np.int32),) * 3),
        ValueError,
        "mixtures must number 1 .. 64, got 65",
    ),
    (
        "symbols n",
        lambda: enc_mix(SYM4[:3]),
        ValueError,
        "symbols has 3 entries but the mixture parameters have 4 rows",
    ),
    # precision and alphabet
    (
        "precision 25",
        lambda: enc_cdf(precision=25),
        ValueError,
        "precision must be in 1 .. 24, got 25",
    ),
    (
        "precision 0",
        lambda: dec_cdf(precision=0),
        ValueError,
        "precision must be in 1 .. 24, got 0",
    ),
    (
        "cdf alphabet",
        lambda: enc_cdf(cdf=np.zeros((1, 70000), np.int32)),
        ValueError,
        "alphabet of 69999 symbols does not fit precision 16",
    ),
    (
        "mixture alphabet 0",
        lambda: mix_cdf(alphabet=0),
        ValueError,
        "alphabet must have at least 1 symbol, got 0",
    ),
    (
        "mixture alphabet 2^16 + 1",
        lambda: enc_mix(alphabet=65537),
        ValueError,
        "mixture alphabets are limited to 65536 symbols, got 65537",
    ),
    (
        "mixture alphabet vs precision",
        lambda: enc_mix(alphabet=300, precision=8),
        ValueError,
        "alphabet of 300 symbols does not fit precision 8",
    ),
    # values: symbols in the alphabet
    (
        "symbol = alphabet",
        lambda: enc_cdf(with_entry(SYM4, (1,), 4)),
        ValueError,
        "symbols[1] = 4 is outside the alphabet 0 .. 3",
    ),
    (
        "symbol < 0",
        lambda: enc_cdf(with_entry(SYM4, (3,), -1)),
        ValueError,
        "symbols[3] = -1 is outside the alphabet 0 .. 3",
    ),
    (
        "mixture symbol",
        lambda: enc_mix(with_entry(SYM4, (2,), 256)),
        ValueError,
        "symbols[2] = 256 is outside the alphabet 0 .. 255",
    ),
    # values: CDF rows start at 0, end at 2^P, rise strictly
    (
        "cdf start",
        lambda: enc_cdf(cdf=with_entry(CDF4, (0, 0), 1)),
        ValueError,
        "cdf[0, 0] = 1; every row must start at 0",
    ),
    (
        "cdf end",
        lambda: enc_cdf(cdf=with_entry(CDF4, (0, 4), 65535)),
        ValueError,
        "cdf[0, 4] = 65535; every row must end at 2^16 = 65536",
    ),
    (
        "cdf flat",
        lambda: enc_cdf(cdf=with_entry(CDF4, (0, 2), 16384)),
        ValueError,
        f"cdf[0, 2] = 16384 is not above cdf[0, 1] = 16384{POSITIVE}",
    ),
    (
        "cdf reversed copy",
        lambda: dec_cdf(cdf=CDF4[:, ::-1].copy()),
        ValueError,
        "cdf[0, 0] = 65536; every row must start at 0",
    ),
    (
        "cdf falls",
        lambda: dec_cdf(cdf=np.repeat(with_entry(CDF4, (0, 3), 30000), 4, 0)),
        ValueError,
        f"cdf[0, 3] = 30000 is not above cdf[0, 2] = 32768{POSITIVE}",
    ),
    # values: mixture parameters within the constants' bounds
    (
        "weight < 0",
        lambda: enc_mix(w=with_entry(W, (1, 1), -1)),
        ValueError,
        "weights[1, 1] = -1 is outside 0 .. 4096",
    ),
    (
        "weight > 2^12",
        lambda: dec_mix(w=with_entry(with_entry(W, (2, 0), 5000), (2, 1), -904)),
        ValueError,
        "weights[2, 0] = 5000 is outside 0 .. 4096",
    ),
    (
        "weights sum",
        lambda: mix_cdf(w=with_entry(W, (3, 0), 2047)),
        ValueError,
        "weights[3] sum to 4095; each row must sum to 4096",
    ),
    (
        "weights zero",
        lambda: enc_mix(w=np.zeros_like(W)),
        ValueError,
        "weights[0] sum to 0; each row must sum to 4096",
    ),
    (
        "mean > MAX_ABS_MEAN",
        lambda: enc_mix(mu=with_entry(MU, (0, 1), MAX_ABS_MEAN + 1)),
        ValueError,
        "means[0, 1] = 268435457 is outside -268435456 .. 268435456",
    ),
    (
        "mean < -MAX_ABS_MEAN",
        lambda: dec_mix(mu=with_entry(MU, (3, 0), -MAX_ABS_MEAN - 1)),
        ValueError,
        "means[3, 0] = -268435457 is outside -268435456 .. 268435456",
    ),
    (
        "inv_scale < 0",
        lambda: mix_cdf(inv=with_entry(INV, (2, 1), -1)),
        ValueError,
        "inv_scales[2, 1] = -1 is outside 0 .. 1048576",
    ),
    (
        "inv_scale > MAX_INV_SCALE",
        lambda: enc_mix(inv=with_entry(INV, (0, 0), MAX_INV_SCALE + 1)),
        ValueError,
        "inv_scales[0, 0] = 1048577 is outside 0 .. 1048576",
    ),
    # the bytes to decode: unsigned bytes, one-dimensional, contiguous
    (
        "data reversed",
        lambda: dec_cdf(memoryview(STREAM4)[::-1]),
        ValueError,
        "data must be contiguous, got a stride of -1 bytes",
    ),
    (
        "data stepped",
        lambda: dec_mix(memoryview(STREAM4)[::2]),
        ValueError,
        "data must be contiguous, got a stride of 2 bytes",
    ),
    ("data str", lambda: dec_cdf("abc"), TypeError, "data must be a bytes-like object, got str"),
    (
        "data None",
        lambda: dec_mix(None),
        TypeError,
        "data must be a bytes-like object, got NoneType",
    ),
    (
        "data int8",
        lambda: dec_cdf(np.frombuffer(STREAM4, np.int8)),
        TypeError,
        "data must hold unsigned bytes (format 'B'), got format 'b' of 1-byte items",
    ),
    (
        "data int32",
        lambda: dec_cdf(np.frombuffer(STREAM4, np.int32)),
        TypeError,
        "data must hold unsigned bytes (format 'B'), got format 'i' of 4-byte items",
    ),
    (
        "data 2-D",
        lambda: dec_cdf(np.frombuffer(STREAM4, np.uint8).reshape(4, -1)),
        ValueError,
        "data must be one-dimensional, got 2 dimensions",
    ),
    # the count to decode
    (
        "n beyond memory",
        lambda: dec_cdf(n=2**62),
        ValueError,
        f"n = {2**62} symbols exceed the largest array ({(2**63 - 1) // 4})",
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_arguments_are_checked(
    call: Callable[[], object], exc: type[Exception], message: str
) -> None:
    with pytest.raises(exc) as info:
        call()
    assert info.type is exc
    assert str(info.value) == message


def test_the_checks_pass_what_the_codec_passes() -> None:
    """Every bytes-like form of a stream decodes; read-only and size-1 views are fine."""
    for data in (
        STREAM4,
        bytearray(STREAM4),
        memoryview(STREAM4),
        np.frombuffer(STREAM4, np.uint8),
        memoryview(b"\0" + STREAM4)[1:],
    ):
        np.testing.assert_array_equal(dec_cdf(data), SYM4)
    frozen = SYM4.copy()
    frozen.flags.writeable = False
    assert enc_cdf(frozen) == STREAM4
    assert enc_cdf(SYM4.astype(np.intc)) == STREAM4  # the same dtype under another name
    data = enc_mix()
    np.testing.assert_array_equal(dec_mix(data), SYM4)
    np.testing.assert_array_equal(dec_mix(data, W[:, ::1], MU[::1], INV), SYM4)


def test_a_bad_stream_is_still_a_corrupt_stream_error() -> None:
    """The translator (no longer a static py::object) still maps the coder's error."""
    with pytest.raises(CorruptStreamError, match="shorter than its 16-byte header"):
        dec_cdf(b"")
    with pytest.raises(CorruptStreamError, match="unread bytes"):
        dec_mix(enc_mix() + b"\0\0\0\0")
