"""How the package's modules fit together: what importing one costs, and facts with one home."""

from __future__ import annotations

from pillow_l3c import _suffixes, bench, cli, train


def test_one_set_of_image_suffixes() -> None:
    """A folder holds the same images for ``l3c encode``, ``l3c bench`` and training."""
    assert cli.IMAGE_SUFFIXES is bench.IMAGE_SUFFIXES is train.IMAGE_SUFFIXES
    assert cli.IMAGE_SUFFIXES is _suffixes.IMAGE_SUFFIXES
    assert {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"} <= (
        _suffixes.IMAGE_SUFFIXES
    )
    assert ".l3c" not in _suffixes.IMAGE_SUFFIXES
