"""imageio v3 and v2 through the registered plugin."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from pathlib import Path

import imageio
import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image, ImageOps, PngImagePlugin

import pillow_l3c  # noqa: F401  (registers the plugin)
from pillow_l3c import _codec
from pillow_l3c.errors import L3cError

ICC = b"fake icc profile " * 20
XMP = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'></x:xmpmeta>"


@pytest.fixture(scope="module")
def tiny(small_photo: np.ndarray) -> np.ndarray:
    """13 x 7 RGB: odd and not square, so that every orientation is told apart."""
    return small_photo[:7, :13].copy()


def _exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Lumix"  # Make
    if orientation is not None:
        exif[0x0112] = orientation
    return exif


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
    "array",
    [np.zeros((1, 4, 4, 5), np.uint8), np.zeros((4, 4, 3), np.int16), np.zeros(4, np.uint8)],
)
def test_refuses_what_it_cannot_store(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(L3cError, match=r"^cannot write an array of shape \(4"):
        iio.imwrite(tmp_path / "x.l3c", array, plugin="L3C")


# --- rotate= -----------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("grey", [False, True])
def test_rotate_applies_the_exif_orientation(
    tmp_path: Path, tiny: np.ndarray, orientation: int, grey: bool
) -> None:
    pixels = tiny[:, :, 0].copy() if grey else tiny
    path = tmp_path / "x.l3c"
    Image.fromarray(pixels).save(path, exif=_exif(orientation))
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    rotated = iio.imread(path, rotate=True)
    assert rotated.shape == expected.shape
    np.testing.assert_array_equal(rotated, expected)
    np.testing.assert_array_equal(iio.imread(path), pixels)  # rotate=False: as stored


def test_rotate_reads_an_xmp_orientation_as_pillow_does(tmp_path: Path, tiny: np.ndarray) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'
    path = tmp_path / "x.l3c"
    Image.fromarray(tiny).save(path, xmp=xmp)
    np.testing.assert_array_equal(iio.imread(path, rotate=True), np.rot90(tiny))
    assert iio.immeta(path, exclude_applied=False)["Orientation"] == 8


# --- immeta ------------------------------------------------------------------------------


def _png_with_metadata(pixels: np.ndarray) -> bytes:
    png = PngImagePlugin.PngInfo()
    png.add_text("Title", "a ladybird")
    png.add_itxt("Description", "une coccinelle", "fr", "Beschreibung")
    out = io.BytesIO()
    Image.fromarray(pixels).save(
        out, "PNG", pnginfo=png, exif=_exif(6), icc_profile=ICC, dpi=(300, 150)
    )
    return out.getvalue()


def test_immeta_reads_the_metadata_sections(tmp_path: Path, tiny: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    with Image.open(io.BytesIO(_png_with_metadata(tiny))) as im:
        im.save(path, xmp=XMP, comment=b"shot in May")
    meta = iio.immeta(path)
    h = _codec.read_header(io.BytesIO(path.read_bytes()))[0]
    assert meta == {
        "icc_profile": ICC,
        "exif": _exif(6).tobytes(),
        "xmp": XMP,
        "comment": b"shot in May",
        "dpi": (299.9994, 150.01239999999999),  # what PNG's pHYs kept of (300, 150)
        "Title": "a ladybird",
        "Description": "une coccinelle",
        "model_id": h.model_id.hex(),
        "l3c_version": h.version,
        "l3c_tile_size": h.tile_size,
        "mode": "RGB",
        "shape": (13, 7),
        "Make": "Lumix",
    }
    assert meta["Description"].lang == "fr"
    assert meta["Description"].tkey == "Beschreibung"
    # "Orientation" as imageio's Pillow plugin treats it: left out unless asked for
    assert iio.immeta(path, exclude_applied=False) == {**meta, "Orientation": 6}


@pytest.mark.parametrize("exclude_applied", [True, False])
def test_immeta_is_what_imageios_pillow_plugin_gives(
    tmp_path: Path, tiny: np.ndarray, exclude_applied: bool
) -> None:
    png = _png_with_metadata(tiny)
    path = tmp_path / "x.l3c"
    with Image.open(io.BytesIO(png)) as im:
        im.save(path)
    meta = iio.immeta(path, exclude_applied=exclude_applied)
    as_pillow = iio.immeta(path, plugin="pillow", exclude_applied=exclude_applied)
    assert meta == as_pillow
    of_png = iio.immeta(png, plugin="pillow", exclude_applied=exclude_applied)
    assert {k: meta[k] for k in of_png} == of_png  # every key and value of the PNG's


def test_immeta_and_improps_do_not_decode(tmp_path: Path, tiny: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    Image.fromarray(tiny).save(path, text={"Title": "t"})
    code = (
        "import sys, imageio.v3 as iio, pillow_l3c\n"
        f"meta = iio.immeta({str(path)!r})\n"
        f"props = iio.improps({str(path)!r})\n"
        "print(meta['Title'], props.shape, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout == "t (7, 13, 3) False\n"


# --- imwrite's options ---------------------------------------------------------------------


def test_imwrite_stores_metadata_and_options(tmp_path: Path, tiny: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    itxt = PngImagePlugin.iTXt("une coccinelle", "fr", "Beschreibung")
    iio.imwrite(
        path,
        tiny,
        exif=_exif(3),
        icc_profile=ICC,
        xmp=XMP,
        dpi=(300, 150),
        comment="shot in May",
        text={"Title": "a ladybird", "Description": itxt},
        tile_size=8,
        workers=2,
    )
    header, sections = _codec.read_header(io.BytesIO(path.read_bytes()))
    assert header.tile_size == 8
    assert list(sections) == [b"ICCP", b"EXIF", b"XMP ", b"TEXT", b"DPI ", b"CMNT"]
    assert sections[b"ICCP"] == ICC
    assert sections[b"EXIF"] == _exif(3).tobytes()
    assert sections[b"XMP "] == XMP
    assert sections[b"CMNT"] == b"shot in May"
    with Image.open(path) as im:
        assert im.info["dpi"] == (300.0, 150.0)
        assert im.text == {"Title": "a ladybird", "Description": itxt}
        assert im.text["Description"].lang == "fr"
        np.testing.assert_array_equal(np.asarray(im), tiny)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"icc_profile": 3}, TypeError, "icc_profile must be bytes, got int"),
        ({"exif": [1, 2]}, TypeError, "exif must be bytes, got list"),
        ({"dpi": (0, 72)}, ValueError, r"dpi must be two positive finite numbers, got \(0, 72\)"),
        ({"dpi": (72,)}, ValueError, r"dpi must be two numbers, got \(72,\)"),
        ({"text": ["Title"]}, TypeError, "text must be a dict of str to str, got list"),
        ({"text": {"Title": 1}}, TypeError, "a text chunk's value must be str, got int"),
        ({"tile_size": "64"}, TypeError, "tile_size must be an int, got str"),
        ({"tile_size": 12}, ValueError, "tile size must be a multiple of 8 from 8 to 32768"),
        ({"workers": 0}, ValueError, "workers must be at least 1, got 0"),
        ({"workers": 1.5}, TypeError, "workers must be an int, got float"),
    ],
)
def test_imwrite_refuses_bad_options(
    tmp_path: Path, tiny: np.ndarray, kwargs: dict, error: type, message: str
) -> None:
    path = tmp_path / "x.l3c"
    with pytest.raises(error, match=f"^{message}"):
        iio.imwrite(path, tiny, **kwargs)
    assert not path.exists()  # refused before the first byte


# --- batches of one ----------------------------------------------------------------------


@pytest.mark.parametrize("bands", [None, 2, 3, 4])
def test_a_batch_of_one_is_one_image(tmp_path: Path, tiny: np.ndarray, bands: int | None) -> None:
    image = tiny[:, :, 0].copy() if bands is None else np.resize(tiny, (7, 13, bands))
    path = tmp_path / "x.l3c"
    iio.imwrite(path, image[None])
    np.testing.assert_array_equal(iio.imread(path), image)
    iio.imwrite(path, [image])  # a list is a batch, as for imageio's Pillow plugin
    np.testing.assert_array_equal(iio.imread(path), image)


@pytest.mark.parametrize(
    ("array", "count"),
    [
        (np.zeros((2, 7, 13, 3), np.uint8), 2),
        (np.zeros((2, 7, 13), np.uint8), 2),
        (np.zeros((4, 4, 5), np.uint8), 4),  # imageio's Pillow plugin: 4 frames of 4 x 5
        ([np.zeros((7, 13, 3), np.uint8)] * 3, 3),
    ],
)
def test_a_longer_batch_is_refused(tmp_path: Path, array: np.ndarray, count: int) -> None:
    with pytest.raises(ValueError, match=f"^an L3C file holds one image, got {count}$"):
        iio.imwrite(tmp_path / "x.l3c", array)


# --- imageio v2 ----------------------------------------------------------------------------


def test_v2_imread_meta_is_v3_immeta(tmp_path: Path, tiny: np.ndarray) -> None:
    path = tmp_path / "x.l3c"
    Image.fromarray(tiny).save(path, exif=_exif(6), text={"Title": "t"})
    image = iio2.imread(path)
    np.testing.assert_array_equal(image, tiny)
    # the orientation is not applied, so the metadata of these pixels keeps it
    assert image.meta == iio.immeta(path, exclude_applied=False)
    assert image.meta["Orientation"] == 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # imageio.imread is v2's
        assert imageio.imread(path).meta == image.meta
    rotated = iio2.imread(path, rotate=True)
    np.testing.assert_array_equal(rotated, np.rot90(tiny, -1))
    assert rotated.meta == iio.immeta(path)
    assert "Orientation" not in rotated.meta
