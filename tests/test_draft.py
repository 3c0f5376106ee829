"""``Image.draft`` and pyramid levels: thumbnails and overviews without a full decode."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pillow_l3c
from pillow_l3c import _format
from pillow_l3c.tile_coders import polyphase

GOLDEN = Path(__file__).parent / "golden"


def _drafted(data: bytes, size: tuple[int, int]) -> tuple[Image.Image, object]:
    im = Image.open(io.BytesIO(data))
    result = im.draft(None, size)
    im.load()
    return im, result


def test_draft_decodes_only_the_coarse_scales(
    storm: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = pillow_l3c.encode(storm, tile_size=64)  # 4 x 3 tiles of 3 scales
    calls: list[int] = []
    real = polyphase._adapted_decode
    monkeypatch.setattr(
        polyphase,
        "_adapted_decode",
        lambda *a: calls.append(1) or real(*a),  # type: ignore[func-returns-value]
    )
    full = pillow_l3c.decode(data)
    whole = len(calls)
    calls.clear()
    im, result = _drafted(data, (60, 40))
    assert result == ("RGB", (0, 0, 64.0, 48.0))
    assert im.size == (64, 48)
    np.testing.assert_array_equal(np.asarray(im), full[::4, ::4])
    assert len(calls) == whole // 3  # the two finest of three scales are not decoded


@pytest.mark.parametrize(
    ("size", "level"), [((256, 192), 0), ((200, 100), 0), ((128, 96), 1), ((1, 1), 7)]
)
def test_draft_is_never_smaller_than_asked(
    storm: np.ndarray, size: tuple[int, int], level: int
) -> None:
    data = pillow_l3c.encode(storm)
    im, result = _drafted(data, size)
    step = 1 << level
    assert im.size == (-(-256 // step), -(-192 // step))
    assert im.size[0] >= size[0]
    assert im.size[1] >= size[1]
    assert result == ("RGB", (0, 0, 256 / step, 192 / step))
    np.testing.assert_array_equal(np.asarray(im), storm[::step, ::step])


def test_thumbnail_uses_the_draft(storm: np.ndarray) -> None:
    data = pillow_l3c.encode(storm)
    im = Image.open(io.BytesIO(data))
    im.thumbnail((32, 32))
    assert im.size == (32, 24)
    # as Pillow resizes a JPEG draft: the decimated level, resized to the target
    half = Image.fromarray(storm[::2, ::2])
    expected = half.resize((32, 24), Image.Resampling.BICUBIC, (0, 0, 128, 96), 2.0)
    assert im.tobytes() == expected.tobytes()


def test_draft_once_loaded_does_nothing(small_l3c: bytes) -> None:
    im = Image.open(io.BytesIO(small_l3c))
    im.load()
    assert im.draft(None, (8, 8)) is None
    assert im.size == (64, 48)


@pytest.mark.parametrize(
    "name", ["poly_storm_rgb_tiles", "storm_rgb_tiles", "poly_citrus_rgba", "ladybird_grey"]
)
def test_draft_of_every_kind_of_tile_and_format_2(name: str) -> None:
    """L3C tiles, format-2 files and alpha: decoded whole, then decimated."""
    for folder in (GOLDEN, GOLDEN / "v3"):
        with Image.open(folder / f"{name}.png") as src:
            expected = np.asarray(src)
        im, _ = _drafted((folder / f"{name}.l3c").read_bytes(), (20, 10))
        step = min(expected.shape[1] // 20, expected.shape[0] // 10)
        step = 1 << (step.bit_length() - 1)
        np.testing.assert_array_equal(np.asarray(im), expected[::step, ::step])


@pytest.mark.parametrize("name", ["classical_icon_p", "classical_bilevel", "mixed_ui"])
def test_draft_of_classical_palette_and_mixed_tiles(name: str) -> None:
    folder = GOLDEN / "v3" / "classical"
    with Image.open(folder / f"{name}.png") as src:
        src.load()
    im, _ = _drafted((folder / f"{name}.l3c").read_bytes(), (src.width // 4, src.height // 4))
    assert im.mode == src.mode
    assert im.size == (-(-src.width // 4), -(-src.height // 4))
    np.testing.assert_array_equal(np.asarray(im), np.asarray(src)[::4, ::4])
    assert im.getpalette() == src.getpalette()


def test_a_damaged_coarse_scale_is_caught(storm: np.ndarray) -> None:
    import zlib

    data = bytearray(pillow_l3c.encode(storm))
    start = _format.header_size(bytes(data)) + _format.SECTION_HEAD_BYTES
    content = _format.unpack_tile(bytes(data[start:-4]))
    first_stream = len(data) - 4 - sum(map(len, content.streams))
    data[first_stream + 20] ^= 0x10  # the coarsest scale's stream
    data[-4:] = zlib.crc32(bytes(data[start:-4]), zlib.crc32(b"TILE")).to_bytes(4, "big")
    im = Image.open(io.BytesIO(bytes(data)))
    im.draft(None, (16, 12))
    with pytest.raises(pillow_l3c.CorruptStreamError):
        im.load()


def test_open_array_opens_pyramid_levels(tmp_path: Path, storm: np.ndarray) -> None:
    pytest.importorskip("dask.array")
    from pillow_l3c import dask_array

    path = tmp_path / "s.l3c"
    path.write_bytes(pillow_l3c.encode(storm, tile_size=64))
    for level in (0, 1, 2, 5):
        arr = dask_array.open_array(str(path), level=level)
        step = 1 << level
        assert arr.shape == (-(-192 // step), -(-256 // step), 3)
        np.testing.assert_array_equal(arr.compute(), storm[::step, ::step])
        part = arr[1 : arr.shape[0] - 1, 2:].compute()
        np.testing.assert_array_equal(part, storm[::step, ::step][1 : arr.shape[0] - 1, 2:])
    with pytest.raises(ValueError, match="level must be an int from 0 to 9, got 10"):
        dask_array.open_array(str(path), level=10)


def test_a_drafted_image_crops_what_it_shows(storm: np.ndarray) -> None:
    data = pillow_l3c.encode(storm, tile_size=64)
    im = Image.open(io.BytesIO(data))
    im.draft(None, (128, 96))
    part = im.crop((10, 10, 50, 40))
    np.testing.assert_array_equal(np.asarray(part), storm[::2, ::2][10:40, 10:50])
