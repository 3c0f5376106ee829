"""How the package's modules fit together: what importing one costs, and facts with one home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pillow_l3c import _suffixes, bench, cli, train


def test_the_cli_imports_neither_torch_nor_the_benchmark() -> None:
    """``l3c encode`` must start where the benchmark cannot (``resource`` is POSIX-only)
    and without paying for torch before a model is needed."""
    code = (
        "import sys, pillow_l3c.cli\n"
        "print(' '.join(m for m in sys.modules if m == 'torch' or m.startswith('torch.')"
        " or m == 'resource' or 'bench' in m))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == []


def test_one_set_of_image_suffixes() -> None:
    """A folder holds the same images for ``l3c encode``, ``l3c bench`` and training."""
    assert cli.IMAGE_SUFFIXES is bench.IMAGE_SUFFIXES is train.IMAGE_SUFFIXES
    assert cli.IMAGE_SUFFIXES is _suffixes.IMAGE_SUFFIXES
    assert {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"} <= (
        _suffixes.IMAGE_SUFFIXES
    )
    assert ".l3c" not in _suffixes.IMAGE_SUFFIXES


def test_the_benchmark_says_why_it_cannot_measure_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where neither /proc nor ``resource`` exists (Windows), ``l3c bench`` stops with
    one line that says so, instead of an error per measurement."""
    from pillow_l3c.bench import child

    monkeypatch.setattr(child, "resource", None)
    monkeypatch.setattr(child, "_proc_status_kib", lambda key: None)
    args = cli.build_parser().parse_args(["bench", str(tmp_path), "--codecs", "png", "-q"])
    assert bench.run(args) == 1
    assert "peak memory needs /proc or the resource module" in capsys.readouterr().err
