"""The C++ rANS coder through its binding: exact inverse, bounded on bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pillow_l3c import _coder
from pillow_l3c._constants import (
    INV_SCALE_FRACTION_BITS,
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


def test_invalid_arguments_are_value_errors() -> None:
    cdf = cdf_from_probs(np.ones((1, 4)))
    with pytest.raises(ValueError, match="outside the alphabet"):
        _coder.encode_cdf(np.array([4], np.int32), cdf)
    with pytest.raises(ValueError, match="outside the alphabet"):
        _coder.encode_cdf(np.array([-1], np.int32), cdf)
    bad = cdf.copy()
    bad[0, 2] = bad[0, 1]
    with pytest.raises(ValueError, match="no valid interval"):
        _coder.encode_cdf(np.array([1], np.int32), bad)
    with pytest.raises(ValueError, match="one row per symbol"):
        _coder.encode_cdf(np.zeros(3, np.int32), np.repeat(cdf, 2, 0))
    with pytest.raises(ValueError, match="precision"):
        _coder.encode_cdf(np.zeros(3, np.int32), cdf, 25)
    with pytest.raises(ValueError, match="does not fit"):
        _coder.encode_cdf(np.zeros(3, np.int32), np.zeros((1, 70000), np.int32), 16)


def test_non_monotone_cdf_on_decode_raises() -> None:
    cdf = cdf_from_probs(np.ones((1, 8)))
    data = _coder.encode_cdf(np.arange(8, dtype=np.int32), cdf)
    bad = cdf[:, ::-1].copy()
    with pytest.raises(CorruptStreamError):
        _coder.decode_cdf(data, bad, 8)


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


def test_mixture_rejects_bad_parameters() -> None:
    w, mu, inv = mixture(10, 3, 256)
    symbols = np.zeros(10, np.int32)
    with pytest.raises(ValueError, match="sum to 4096"):
        _coder.encode_mixture(symbols, np.zeros_like(w), mu, inv, 256)
    with pytest.raises(ValueError, match="sum to 4096"):
        _coder.encode_mixture(symbols, w + 1, mu, inv, 256)
    with pytest.raises(ValueError, match="out of range"):
        _coder.encode_mixture(symbols, w, mu, -inv, 256)
    with pytest.raises(ValueError, match="shape"):
        _coder.encode_mixture(symbols, w[:5], mu, inv, 256)


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
