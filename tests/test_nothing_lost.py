"""One photo carrying every kind of metadata, through every path in and out of .l3c.

The photo (a committed test image) carries an ICC profile, EXIF with an orientation,
XMP, PNG text chunks (a Stable Diffusion-style "parameters", an international caption),
dpi and, as variants, alpha and grey. Each path must give back its pixels exactly and
its metadata byte for byte, or say what it could not keep.
"""

from __future__ import annotations

import io
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

import pillow_l3c  # registers the format
from pillow_l3c.cli import main
from pillow_l3c.errors import MetadataNotKeptWarning

from .conftest import IMAGES

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
TEXT = {"parameters": "a ladybird, steps: 20, seed: 42", "Comment": "from the garden"}
CAPTION = PngImagePlugin.iTXt("Marienkäfer auf Blatt", "de", "Bildunterschrift")
DPI = (300, 300)


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to show
    exif[0x010F] = "Test camera"
    return exif.tobytes()


EXIF = _exif()


def carrying_png(path: Path, mode: str) -> Path:
    """The ladybird photo in ``mode`` as a PNG with every kind of metadata."""
    with Image.open(IMAGES / "ladybird_64x48.png") as im:
        image = im.convert(mode)
    if mode in ("RGBA", "LA"):
        alpha = Image.linear_gradient("L").resize(image.size)
        image.putalpha(alpha)
    info = PngImagePlugin.PngInfo()
    for key, value in TEXT.items():
        info.add_text(key, value)
    info.add_itxt("Caption", CAPTION, CAPTION.lang, CAPTION.tkey)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    image.save(path, "PNG", pnginfo=info, exif=EXIF, icc_profile=ICC, dpi=DPI)
    return path


def assert_carries(im: Image.Image, source: Image.Image, what: str = "all") -> None:
    """``im`` has ``source``'s pixels and metadata (PNG's dpi rounding allowed)."""
    assert im.mode == source.mode
    assert im.tobytes() == source.tobytes()
    assert im.info["icc_profile"] == ICC
    assert im.getexif()[0x0112] == 6
    assert im.getexif()[0x010F] == "Test camera"
    assert im.info["xmp"] == XMP
    if what == "all":
        assert im.info["dpi"] == pytest.approx(DPI, abs=0.01)
        text = im.text  # type: ignore[attr-defined]
        for key, value in TEXT.items():
            assert text[key] == value
        assert text["Caption"] == CAPTION
        assert (text["Caption"].lang, text["Caption"].tkey) == (CAPTION.lang, CAPTION.tkey)


@pytest.fixture(params=["RGB", "RGBA", "L", "LA"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return carrying_png(tmp_path / f"photo_{request.param}.png", request.param)


def test_pillow_save_and_open(tmp_path: Path, source: Path) -> None:
    with Image.open(source) as src, warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is dropped, so nothing is warned
        src.save(tmp_path / "x.l3c")
        with Image.open(tmp_path / "x.l3c") as im:
            im.load()
            assert_carries(im, src)
        # convert() and copy() keep text chunks only in info: they are still found
        src.copy().save(tmp_path / "y.l3c")
        with Image.open(tmp_path / "y.l3c") as im:
            im.load()
            assert_carries(im, src)


def test_pillow_save_parameters_win_over_info(tmp_path: Path) -> None:
    image = Image.new("RGB", (16, 8), (200, 10, 30))
    image.info["comment"] = b"old"
    image.save(tmp_path / "x.l3c", comment=b"new", dpi=(72, 96), text={"k": "v"}, xmp=XMP)
    with Image.open(tmp_path / "x.l3c") as im:
        assert im.info["comment"] == b"new"
        assert im.info["dpi"] == (72.0, 96.0)
        assert im.info["xmp"] == XMP
        assert im.text == {"k": "v"}  # type: ignore[attr-defined]


def test_pillow_save_warns_about_what_it_cannot_keep(tmp_path: Path) -> None:
    with Image.open(IMAGES / "ladybird_64x48.png") as im:
        image = im.convert("RGB")
    image.info["gamma"] = 0.45455
    image.info["transparency"] = (0, 0, 0)
    with pytest.warns(MetadataNotKeptWarning) as caught:
        image.save(tmp_path / "x.l3c")
    assert str(caught[0].message) == (
        "L3C cannot store a colour-key transparency (transparency), a PNG gamma (gamma): not kept"
    )


def test_jpeg_comment_and_dpi_are_kept(tmp_path: Path) -> None:
    with Image.open(IMAGES / "ladybird_64x48.png") as im:
        im.convert("RGB").save(tmp_path / "a.jpg", comment=b"shot at dawn", dpi=(240, 240))
    with Image.open(tmp_path / "a.jpg") as src:
        src.save(tmp_path / "a.l3c")
        with Image.open(tmp_path / "a.l3c") as im:
            assert im.info["comment"] == b"shot at dawn"
            assert im.info["dpi"] == (240.0, 240.0)
            assert im.tobytes() == src.tobytes()


def _decoded(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_encode_then_decode_keeps_everything(tmp_path: Path, jobs: str) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for mode in ("RGB", "RGBA", "L", "LA"):
        carrying_png(folder / f"{mode}.png", mode)
    assert main(["encode", str(folder), "-o", str(tmp_path / "enc"), "-q", "-j", jobs]) == 0
    assert main(["decode", str(tmp_path / "enc"), "-o", str(tmp_path / "dec"), "-q"]) == 0
    for mode in ("RGB", "RGBA", "L", "LA"):
        with Image.open(folder / f"{mode}.png") as src:
            src.load()
            assert_carries(_decoded(tmp_path / "dec" / f"{mode}.png"), src)


def test_cli_decode_to_webp_is_lossless_and_says_what_webp_drops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src_path = carrying_png(tmp_path / "a.png", "RGBA")
    with Image.open(src_path) as src:
        src.save(tmp_path / "a.l3c")
        src.load()
    assert main(["decode", str(tmp_path / "a.l3c"), "-o", str(tmp_path / "a.webp")]) == 0
    err = capsys.readouterr().err
    assert err == (
        f"l3c: warning: {tmp_path / 'a.webp'}: WEBP cannot store dpi, text chunks "
        "(parameters, Comment, Caption): not kept\n"
    )
    webp = _decoded(tmp_path / "a.webp")
    assert_carries(webp, src, what="icc, exif, xmp")  # colour under alpha 0 too (exact)


def test_cli_crop_keeps_metadata(tmp_path: Path) -> None:
    with Image.open(carrying_png(tmp_path / "a.png", "RGB")) as src:
        src.save(tmp_path / "a.l3c")
        src.load()
        box = (5, 6, 40, 30)
        out = str(tmp_path / "c.png")
        assert main(["crop", str(tmp_path / "a.l3c"), "5,6,40,30", "-o", out]) == 0
        part = _decoded(tmp_path / "c.png")
        assert_carries(part, src.crop(box))


def test_cluster_tasks_keep_metadata(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    from pillow_l3c import cluster

    src_path = carrying_png(tmp_path / "a.png", "LA")
    enc = cluster.code_file(str(src_path), str(tmp_path / "a.l3c"), cluster.ENCODE)
    assert enc.status == "done", enc.error
    dec = cluster.code_file(str(tmp_path / "a.l3c"), str(tmp_path / "out.png"), cluster.DECODE)
    assert dec.status == "done", dec.error
    with Image.open(src_path) as src:
        src.load()
        assert_carries(_decoded(tmp_path / "out.png"), src)


def test_cluster_task_refuses_to_replace_an_original(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    from pillow_l3c import cluster

    original = carrying_png(tmp_path / "a.png", "RGB")
    before = original.read_bytes()
    encoded = cluster.code_file(str(original), str(tmp_path / "a.l3c"), cluster.ENCODE)
    assert encoded.status == "done"
    result = cluster.code_file(str(tmp_path / "a.l3c"), str(original), cluster.DECODE)
    assert result.status == "error"
    assert result.error == (
        f"OutputRefusedError: {original} exists and was not written by l3c from this source "
        "(--force replaces it)"
    )
    assert original.read_bytes() == before


def test_dask_to_l3c_takes_metadata(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    from pillow_l3c import dask_array

    with Image.open(carrying_png(tmp_path / "a.png", "RGB")) as src:
        src.load()
        meta: dict[str, Any] = {"icc_profile": ICC, "exif": EXIF, "xmp": XMP}
        meta["dpi"] = src.info["dpi"]  # as PNG stored it
        meta["text"] = {**TEXT, "Caption": CAPTION}
        dask_array.to_l3c(np.asarray(src), str(tmp_path / "d.l3c"), metadata=meta)
        with Image.open(tmp_path / "d.l3c") as im:
            im.load()
            assert_carries(im, src)
        again = io.BytesIO()
        src.save(again, "L3C")
        assert (tmp_path / "d.l3c").read_bytes() == again.getvalue()


def test_a_source_photo_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(carrying_png(tmp_path / "a.png", "RGB"), folder / "a.png")
    before = (folder / "a.png").read_bytes()
    assert main(["encode", str(folder), "-q"]) == 0
    capsys.readouterr()
    assert main(["decode", str(folder), "-q"]) == 1  # a.l3c -> a.png: the original
    assert capsys.readouterr().err == (
        f"l3c: error: {folder / 'a.l3c'}: {folder / 'a.png'} exists and was not written by "
        "l3c from this source (--force replaces it)\n"
    )
    assert (folder / "a.png").read_bytes() == before


def test_every_array_path_keeps_metadata(tmp_path: Path) -> None:
    """imageio v3 and v2, and pillow_l3c.encode/decode, carry the same metadata."""
    import imageio.v2 as iio2
    import imageio.v3 as iio

    with Image.open(carrying_png(tmp_path / "a.png", "RGBA")) as src:
        src.load()
    pixels = np.asarray(src)
    iio.imwrite(tmp_path / "v3.l3c", pixels, icc_profile=ICC, exif=EXIF, xmp=XMP, dpi=DPI)
    meta = iio.immeta(tmp_path / "v3.l3c")
    assert (meta["icc_profile"], meta["exif"], meta["xmp"]) == (ICC, EXIF, XMP)
    assert meta["dpi"] == (300.0, 300.0)
    np.testing.assert_array_equal(iio.imread(tmp_path / "v3.l3c"), pixels)
    v2 = iio2.imread(tmp_path / "v3.l3c")
    np.testing.assert_array_equal(v2, pixels)
    assert v2.meta["icc_profile"] == ICC
    data = pillow_l3c.encode(pixels, metadata=dict(src.info))
    np.testing.assert_array_equal(pillow_l3c.decode(data), pixels)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        assert_carries(im, src)
    assert pillow_l3c.read_metadata(data)["parameters"] == TEXT["parameters"]


def test_a_text_only_in_info_is_not_a_comment_twice(tmp_path: Path) -> None:
    image = Image.new("L", (8, 8), 7)
    image.info["comment"] = "str comment"
    image.save(tmp_path / "x.l3c")
    with Image.open(tmp_path / "x.l3c") as im:
        assert im.info["comment"] == b"str comment"
        assert im.text == {}  # type: ignore[attr-defined]
