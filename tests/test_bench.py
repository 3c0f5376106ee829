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
