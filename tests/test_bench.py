"""``l3c bench``: the benchmark end to end on two small crops, through add_arguments/run."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pillow_l3c import bench

from .conftest import IMAGES


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(argv)


def test_bench_two_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(IMAGES / "ladybird_64x48.png", photos / "ladybird.png")
    with Image.open(IMAGES / "citrus_77x53.png") as im:
        im.crop((0, 0, 40, 33)).save(photos / "citrus.png")  # odd sizes: padding paths
    (photos / "broken.png").write_bytes(b"not an image")  # reported, not fatal
    (photos / "notes.txt").write_text("ignored: not an image suffix")
    codecs = ["l3c", "png"]
    if bench.unavailable_reason("jxl-e7") is None:
        codecs.append("jxl-e7")
    chart, report = tmp_path / "chart.png", tmp_path / "results.json"
    argv = [str(photos), "--codecs", ",".join(codecs), "--json", str(report)]
    args = _parse([*argv, "--chart", str(chart), "--per-image", "-q"])

    assert bench.run(args) == 1  # because of broken.png only

    data = json.loads(report.read_text())
    assert list(data["image_errors"]) == [str(photos / "broken.png")]
    results = data["results"]
    assert sorted((Path(r["image"]).name, r["codec"]) for r in results) == sorted(
        (name, c) for name in ("citrus.png", "ladybird.png") for c in codecs
    )
    for r in results:
        assert r["error"] is None, r
        assert r["exact"] is True
        assert r["ok"] is True
        assert r["bytes"] > 0
        assert r["bpsp"] == pytest.approx(r["bytes"] * 8 / (r["width"] * r["height"] * 3))
        assert r["bpsp"] > 0
        assert r["encode_s"] > 0
        assert r["decode_s"] > 0
        for phase in ("encode", "decode"):
            assert r[f"{phase}_peak_mib"] >= r[f"{phase}_baseline_mib"] > 0
        assert r["extra"]["peak_scope"] in ("call", "process")
    summary = data["summary"]
    assert list(summary) == codecs
    for s in summary.values():
        assert s["images"] == 2
        assert s["errors"] == 0
        assert s["bpsp_total"] > 0
        assert s["encode_s_per_mp"] > 0
        assert s["decode_peak_mib"] > 0
    assert summary["png"]["vs_png"]["bits"] == pytest.approx(1.0)
    assert data["meta"]["codecs"] == codecs

    with Image.open(chart) as im:
        assert im.format == "PNG"
        im.verify()

    out = capsys.readouterr().out
    assert re.search(r"\| +PNG \(optimize\) +\|", out)
    assert "L3C (poly-small)" in out
    assert "broken.png" in out
    assert "ladybird" in out  # --per-image rows


def test_unknown_codec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse(["somewhere", "--codecs", "png,gif"])
    assert "unknown codec(s) gif" in capsys.readouterr().err


def test_missing_folder(tmp_path: Path) -> None:
    assert bench.run(_parse([str(tmp_path / "nope"), "--chart", str(tmp_path / "c.png")])) == 1


def test_inexact_decode_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker compares every decode with the original pixels, bit for bit."""

    encode, decode = bench.codec_functions("png")

    def off_by_one(data: bytes) -> np.ndarray:
        out = decode(data).copy()
        out[0, 0, 0] ^= 1
        return out

    monkeypatch.setattr(bench, "codec_functions", lambda name, device=None: (encode, off_by_one))
    pixels = np.zeros((6, 5, 3), np.uint8)
    np.save(tmp_path / "p.npy", pixels)
    (tmp_path / "s.bin").write_bytes(encode(pixels))
    spec = {"codec": "png", "pixels": str(tmp_path / "p.npy"), "stream": str(tmp_path / "s.bin")}
    result = bench.worker({**spec, "direction": "decode"})
    assert result["exact"] is False
    assert result["mismatch"] == "1 of 90 sub-pixels differ"
    assert result["peak_rss_kib"] >= result["baseline_rss_kib"] > 0


# -- 16-bit images ------------------------------------------------------------------------

RGB16 = IMAGES / "ladybird_rgb16_32x24.png"
GREY16 = IMAGES / "ladybird_grey16_32x24.png"


@pytest.mark.filterwarnings("ignore:Palette images with Transparency")
def test_8bit_images_still_load_as_rgb() -> None:
    for name in ("ladybird_64x48.png", "icon_p_48x48.png"):
        with Image.open(IMAGES / name) as im:
            want = np.asarray(im.convert("RGB"))
        got = bench.load_pixels(IMAGES / name)
        assert got.dtype == np.uint8
        assert np.array_equal(got, want)


def test_16bit_rgb_png_is_not_reduced_to_8_bits() -> None:
    pytest.importorskip("imagecodecs")
    pixels = bench.load_pixels(RGB16)
    assert pixels.dtype == np.uint16
    assert pixels.shape == (24, 32, 3)
    with Image.open(RGB16) as im:  # Pillow reads this file as 8-bit RGB: the high bytes
        high = np.asarray(im.convert("RGB"))
    assert np.array_equal(pixels >> 8, high)
    assert np.count_nonzero(pixels & 0xFF) > pixels.size // 2  # the low bytes are there


def test_16bit_grey_png_loads_as_stored() -> None:
    pixels = bench.load_pixels(GREY16)
    with Image.open(GREY16) as im:
        assert im.mode == "I;16"
        want = np.asarray(im)
    assert pixels.dtype == np.uint16
    assert pixels.shape == (24, 32)
    assert np.array_equal(pixels, want)
    assert int(pixels.max()) > 255


def _ppm16(a: np.ndarray) -> bytes:
    h, w = a.shape[:2]
    magic = b"P6" if a.ndim == 3 else b"P5"
    return magic + b"\n%d %d\n65535\n" % (w, h) + a.astype(">u2").tobytes()


def test_16bit_files_of_every_kind_load_exactly(tmp_path: Path) -> None:
    imagecodecs = pytest.importorskip("imagecodecs")
    rng = np.random.default_rng(7)
    arrays = {c: rng.integers(0, 65536, (5, 7, c), dtype=np.uint16) for c in (1, 2, 3, 4)}
    files = {
        f"c{c}.png": (imagecodecs.png_encode(a[..., 0] if c == 1 else a), a)
        for c, a in arrays.items()
    }
    files["rgb.ppm"] = (_ppm16(arrays[3]), arrays[3])
    files["grey.pgm"] = (_ppm16(arrays[1][..., 0]), arrays[1])
    if imagecodecs.TIFF.available:
        files["rgb.tif"] = (imagecodecs.tiff_encode(arrays[3]), arrays[3])
    for name, (data, want) in files.items():
        (tmp_path / name).write_bytes(data)
        got = bench.load_pixels(tmp_path / name)
        want = want[..., 0] if want.shape[2] == 1 else want
        assert got.dtype == np.uint16, name
        assert np.array_equal(got, want), name


def test_16bit_baselines_round_trip() -> None:
    pytest.importorskip("imagecodecs")
    images = [bench.load_pixels(RGB16), bench.load_pixels(GREY16)]
    codecs = ["png"] + [c for c in ("jpeg2000", "jxl-e7") if bench.unavailable_reason(c) is None]
    for c in codecs:
        encode, decode = bench.codec_functions(c)
        for pixels in images:
            data = encode(pixels)
            assert isinstance(data, bytes)
            assert 0 < len(data) < pixels.nbytes, c  # these are compressible
            out = np.asarray(decode(data))
            assert out.dtype == np.uint16, c
            assert np.array_equal(out, pixels), c
    assert bench.inapplicable_reason("webp", "uint16") == "n/a (8-bit only)"
    assert bench.inapplicable_reason("webp", "uint8") is None
    assert bench.inapplicable_reason("png", "uint16") is None


def test_bench_16bit_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """16-bit images are coded as stored; WebP is n/a on them; L3C is an error or exact."""
    pytest.importorskip("imagecodecs")
    folder = tmp_path / "deep"
    folder.mkdir()
    for p in (RGB16, GREY16, IMAGES / "ladybird_64x48.png"):
        shutil.copy(p, folder / p.name)
    codecs = ["l3c", "png"]
    webp = bench.unavailable_reason("webp") is None
    if webp:
        codecs.append("webp")
    report = tmp_path / "results.json"
    args = _parse(
        [str(folder), "--codecs", ",".join(codecs), "--json", str(report), "--per-image", "-q"]
    )
    args.chart = None

    status = bench.run(args)

    data = json.loads(report.read_text())
    results = {(Path(r["image"]).name, r["codec"]): r for r in data["results"]}
    assert len(results) == 3 * len(codecs)
    kinds = {RGB16.name: (3, 16), GREY16.name: (1, 16), "ladybird_64x48.png": (3, 8)}
    for (name, c), r in results.items():
        channels, bits = kinds[name]
        assert (r["channels"], r["bits"]) == (channels, bits)
        if c == "l3c" and bits == 16:  # until L3C codes 16 bits: an error, never a crash
            assert r["ok"] or r["error"], r
            continue
        if c == "webp" and bits == 16:
            assert r["na"] == "n/a (8-bit only)"
            assert r["error"] is None
            assert r["bytes"] is None
            assert r["ok"] is False
            continue
        assert r["error"] is None, r
        assert r["exact"] is True
        assert r["bpsp"] == pytest.approx(r["bytes"] * 8 / (r["width"] * r["height"] * channels))
    l3c_failed = any(r["error"] for (_, c), r in results.items() if c == "l3c")
    assert status == (1 if l3c_failed else 0)
    summary = data["summary"]
    assert summary["png"]["images"] == 3
    assert summary["png"]["errors"] == 0
    if webp:
        assert summary["webp"]["images"] == 1
        assert summary["webp"]["errors"] == 0
        assert summary["webp"]["na"] == 2
    out = capsys.readouterr().out
    assert "16-bit images (1 RGB, 1 grey)" in out
    assert re.search(r"\| +32x24 16-bit grey \| +PNG \(optimize\) \|", out)  # --per-image
    if webp:
        assert "WebP lossless (m6): n/a (8-bit only), not run on 2 16-bit image(s)" in out
