"""The l3c command line, run in-process through its main()."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pillow_l3c.cli import main

from .conftest import IMAGES


@pytest.fixture
def two_photos(tmp_path: Path) -> list[Path]:
    out = []
    for name in ["ladybird_64x48.png", "citrus_77x53.png"]:
        shutil.copy(IMAGES / name, tmp_path / name)
        out.append(tmp_path / name)
    return out


def test_encode_decode_info_roundtrip(
    tmp_path: Path, two_photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["encode", *map(str, two_photos), "-o", str(tmp_path / "enc"), "-q"]) == 0
    encoded = sorted((tmp_path / "enc").glob("*.l3c"))
    assert [p.name for p in encoded] == ["citrus_77x53.l3c", "ladybird_64x48.l3c"]
    assert main(["decode", *map(str, encoded), "-o", str(tmp_path / "dec"), "-q"]) == 0
    for src in two_photos:
        with Image.open(src) as a, Image.open(tmp_path / "dec" / src.name) as b:
            np.testing.assert_array_equal(np.asarray(a.convert("RGB")), np.asarray(b))
    capsys.readouterr()
    assert main(["info", str(encoded[1])]) == 0
    line = capsys.readouterr().out.strip()
    assert "64x48 RGB, format version 2, 1 tile of 512, model " in line
    assert line.endswith(" bpsp")


def test_single_output_file_and_default_names(tmp_path: Path, two_photos: list[Path]) -> None:
    assert main(["encode", str(two_photos[0]), "-o", str(tmp_path / "one.l3c")]) == 0
    assert (tmp_path / "one.l3c").read_bytes().startswith(b"\x89L3C")
    assert main(["encode", str(two_photos[1])]) == 0
    assert two_photos[1].with_suffix(".l3c").exists()


def test_errors_give_one_line_and_exit_1(
    tmp_path: Path, two_photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.l3c"
    bad.write_bytes(b"\x89L3C\r\n\x1a\n" + bytes(100))
    gray = tmp_path / "gray.png"
    Image.new("P", (8, 8)).save(gray)
    capsys.readouterr()
    assert main(["decode", str(bad), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"l3c: error: {bad}: ")
    assert main(["encode", str(gray), str(two_photos[0]), "-o", str(tmp_path / "o"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"l3c: error: {gray}: cannot write mode P as L3C"]
    assert not (tmp_path / "o" / "gray.l3c").exists()
    assert (tmp_path / "o" / "ladybird_64x48.l3c").exists()  # the others still run
    assert main(["info", str(tmp_path / "missing.l3c")]) == 1


def test_compare_prints_bpsp_against_png(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(IMAGES / "ladybird_64x48.png")]) == 0
    out = capsys.readouterr().out
    assert "L3C " in out
    assert "PNG " in out
    assert "round trip exact" in out
