"""The image files that ``l3c encode``, the benchmark and training read from a folder."""

from __future__ import annotations

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm"}
)
