"""The file suffixes that stand for images when a folder is given instead of files.

``l3c encode``, ``l3c bench`` and training each take a folder of photos; one set here
means a folder holds the same images for all three (each kept its own copy once, and
they disagreed about .pgm and .pnm). Only formats whose stored samples Pillow reads
back exactly are listed: the codecs are compared on the pixels a file holds.
"""

from __future__ import annotations

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm"}
)
