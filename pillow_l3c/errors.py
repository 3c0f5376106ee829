"""The package's exceptions.

All derive from ``OSError``: to Pillow and to imaging scripts a bad .l3c file is an
I/O problem, which is what ``except OSError`` around ``Image.open(...).load()``
already catches.
"""

from __future__ import annotations


class L3cError(OSError):
    """Base class of every error pillow_l3c raises about a file or stream."""


class CorruptStreamError(L3cError):
    """A file or coded stream that cannot be decoded: truncated, damaged, or inconsistent."""


class ModelMismatchError(L3cError):
    """The file was written with a model other than the one available to decode it."""


class TileTooLargeError(L3cError):
    """A file's tiles are larger than ``pillow_l3c.configure(max_tile_pixels=...)`` allows.

    Decoding a tile takes memory in proportion to its pixels, so a file of a few bytes
    could otherwise claim gigabytes; the limit is lifted for trusted files.
    """


class MetadataNotKeptWarning(UserWarning):
    """Metadata that the target cannot store and that is therefore not in it.

    A warning, not an error, because the pixels are still stored exactly; scripts that
    must keep everything turn it into an error with ``warnings.simplefilter("error",
    MetadataNotKeptWarning)``, and the ``l3c`` command prints it.
    """
