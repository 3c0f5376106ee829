"""imageio v3 and v2 through the registered plugin."""

from __future__ import annotations

from pathlib import Path

import imageio
import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest

import pillow_l3c  # noqa: F401  (registers the plugin)


def test_v3_write_read_props(tmp_path: Path, small_photo: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    iio.imwrite(path, small_photo)
    np.testing.assert_array_equal(iio.imread(path), small_photo)
    props = iio.improps(path)
    assert props.shape == small_photo.shape
    assert props.dtype == np.uint8
    assert iio.immeta(path)["mode"] == "RGB"


def test_v2_imread(tmp_path: Path, small_l3c: bytes, small_photo: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    path.write_bytes(small_l3c)
    np.testing.assert_array_equal(iio2.imread(path), small_photo)
    np.testing.assert_array_equal(imageio.v2.imread(path), small_photo)


def test_bytes_roundtrip(small_photo: np.ndarray) -> None:
    data = iio.imwrite("<bytes>", small_photo, extension=".l3c")
    assert data.startswith(b"\x89L3C")
    np.testing.assert_array_equal(iio.imread(data), small_photo)


@pytest.mark.parametrize("shape", [(30, 20), (30, 20, 2), (30, 20, 4)])
def test_grey_and_alpha_arrays(tmp_path: Path, small_photo: np.ndarray, shape: tuple) -> None:
    array = np.resize(small_photo, shape).astype(np.uint8)
    iio.imwrite(tmp_path / "x.l3c", array)
    assert iio.improps(tmp_path / "x.l3c").shape == shape
    np.testing.assert_array_equal(iio.imread(tmp_path / "x.l3c"), array)


@pytest.mark.parametrize(
    "array", [np.zeros((4, 4, 5), np.uint8), np.zeros((4, 4, 3), np.uint16), np.zeros(4, np.uint8)]
)
def test_refuses_what_it_cannot_store(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(OSError, match="cannot write an array of shape"):
        iio.imwrite(tmp_path / "x.l3c", array, plugin="L3C")
