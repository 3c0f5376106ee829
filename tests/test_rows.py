"""A tile shared by two threads (pillow_l3c/tile_coders/polyphase_rows.py) gives the very
integers, bytes and pixels of one thread; and a fork after such a decode is safe."""

from __future__ import annotations

import io
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pillow_l3c
from pillow_l3c import _format, _model, _threads
from pillow_l3c.tile_coders import polyphase_rows as rows

from .conftest import load_photo

GOLDEN_V3 = Path(__file__).parent / "golden" / "v3"
POLY_MODELS = ["poly-small", "poly-fast"]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bands of two rows and up, however few pixels (so that small images are cut too,
    with many edges), and a count of the bands run, so that a test knows the cut
    happened."""
    monkeypatch.setattr(rows, "MIN_BAND_ROWS", 2)
    monkeypatch.setattr(rows, "MIN_SHARED_PIXELS", 0)
    calls: list[int] = []
    original = rows.band_features

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(rows, "band_features", spy)
    return calls


def _net(name: str) -> object:
    return _model.load("cpu", name).module


@pytest.mark.parametrize("name", POLY_MODELS)
@pytest.mark.parametrize("size", [(192, 256), (53, 77), (9, 30), (40, 9)])
def test_bands_hold_the_integers_of_the_whole_pass(name: str, size: tuple[int, int]) -> None:
    """Each pass a tile codes (b; c; d as c of the transposed image), cut into 2 .. 5
    bands: the features, neighbour sums and mixtures of every row are torch.equal."""
    net = _net(name)
    height, width = size
    photo = load_photo("storm_256x192.png")[:height, :width]
    x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].to(torch.int64)
    a, b = x[..., 0::2, 0::2], x[..., 1::2, 1::2]
    c, d = x[..., 0::2, 1::2], x[..., 1::2, 0::2]
    at, bt, dt = a.transpose(2, 3), b.transpose(2, 3), d.transpose(2, 3)
    cases = [
        (rows.Pass(0, (a, a, a), *b.shape[2:]), b),
        (rows.Pass(1, (a, b, b), *c.shape[2:]), c),
        (rows.Pass(1, (at, bt, bt), *dt.shape[2:]), dt),
    ]
    with torch.inference_mode():
        for p, target in cases:
            whole = rows.whole_features(net, p)
            halo = rows.halo(net, p.stage)
            assert halo == 4  # the gather's row and three 3 x 3 convolutions
            for parts in range(2, min(5, p.height) + 1):
                bands = [
                    rows.band_features(net, p, r, halo) for r in rows.band_rows(p.height, parts)
                ]
                assert torch.equal(torch.cat([t.feat for t in bands], dim=2), whole.feat)
                assert torch.equal(torch.cat([t.s4 for t in bands], dim=2), whole.s4)
                for k in range(3):
                    want = rows.band_mixture(net, p.stage, k, whole, target)
                    got = [rows.band_mixture(net, p.stage, k, t, target) for t in bands]
                    for i in range(3):
                        assert torch.equal(torch.cat([m[i] for m in got], dim=1), want[i])


def _golden(name: str) -> tuple[np.ndarray, str, bytes]:
    with Image.open(GOLDEN_V3 / f"{name}.png") as src:
        pixels, mode = np.asarray(src), src.mode
    return pixels, mode, (GOLDEN_V3 / f"{name}.l3c").read_bytes()


@pytest.mark.parametrize(
    ("name", "workers"),
    [
        ("poly_citrus_rgba", 2),  # one tile: the second worker is lent throughout
        ("polyfast_ladybird_grey", 3),
        ("poly_storm_rgb_tiles", 2),  # lent at the tail, when timing allows
        ("poly_storm_rgb_tiles", 5),  # more workers than tiles: lent throughout
    ],
)
def test_shared_tiles_write_and_read_the_golden_bytes(
    name: str, workers: int, counted: list[int]
) -> None:
    """Tiles coded and decoded with lent threads, in bands: the golden files' bytes,
    and their pixels back."""
    pixels, _, data = _golden(name)
    header = _format.parse_header(data)
    with Image.open(io.BytesIO(data)) as im:
        model = _model.find_by_id(bytes.fromhex(im.info["model_id"])).name
    options = {"tile_size": header.tile_size, "model": model, "coder": "learned"}
    assert pillow_l3c.encode(pixels, **options, workers=workers) == data  # mode: by the shape
    cut = header.tile_count() < workers
    assert counted or not cut, "no pass was cut"
    counted.clear()
    np.testing.assert_array_equal(pillow_l3c.decode(data, workers=workers), pixels)
    assert counted or not cut, "no pass was cut"


def test_one_tile_photo_splits_by_default_size(storm: np.ndarray) -> None:
    """At the real band size a one-tile photo is cut when two workers are given, and
    writes and reads the bytes and pixels of one worker."""
    calls: list[int] = []
    original = rows.band_features

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rows, "band_features", spy)
        two = pillow_l3c.encode(storm, workers=2)
        assert calls
        decoded = pillow_l3c.decode(two, workers=2)
    assert two == pillow_l3c.encode(storm, workers=1)
    np.testing.assert_array_equal(decoded, storm)


def test_no_thread_is_lent_outside_a_codec_call() -> None:
    with _threads.spare_threads(3) as lent:
        assert lent == 0
    assert _threads.run_all([lambda: 1, lambda: 2], 0) == [1, 2]


def test_one_worker_lends_nothing() -> None:
    def lent(_: int) -> int:
        with _threads.spare_threads(1) as got:
            return got

    assert list(_threads.ordered_map(lent, [0], 1)) == [0]
    assert list(_threads.ordered_map(lent, [0], 2)) == [1]  # one tile, two workers


def _decode_in_child(data: bytes) -> None:
    ok = np.array_equal(pillow_l3c.decode(data, workers=2), load_photo("storm_256x192.png"))
    raise SystemExit(0 if ok else 1)


def test_fork_after_a_shared_tile_decode_is_safe(storm: np.ndarray) -> None:
    """The parent has run a tile on two threads (a fork after GNU OpenMP has run would
    hang the child): the forked child decodes the same way, on two threads too. A
    child that hangs is killed, and the test fails rather than hangs."""
    data = pillow_l3c.encode(storm, workers=2)
    np.testing.assert_array_equal(pillow_l3c.decode(data, workers=2), storm)
    child = multiprocessing.get_context("fork").Process(target=_decode_in_child, args=(data,))
    child.start()
    child.join(120)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the forked child hung")
    assert child.exitcode == 0
