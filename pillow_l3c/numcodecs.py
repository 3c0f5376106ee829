"""L3C as a numcodecs codec, so that zarr (and anything else using numcodecs) stores chunks as .l3c.

``numcodecs.get_codec({"id": "l3c"})`` finds ``L3C`` through the ``numcodecs.codecs``
entry point, without ``import pillow_l3c``: a zarr array written with it opens in
a process that only has the package installed. Importing this module registers the
codec too, for a package that is on the path but not installed.

A chunk is an image: (H, W) grey, or (H, W, C) with C = 1 (grey), 2 (grey and
alpha), 3 (RGB) or 4 (RGBA), of a dtype in ``DTYPES`` (uint8; uint16, 16 bits per
sample, in either byte order). Each encoded
chunk is a complete .l3c file, which ``pillow_l3c.decode`` and Pillow read as they
read any other. Anything the codec cannot store exactly (another dtype, another
shape, a buffer without a shape) raises ValueError saying what it takes, since a
lossless codec must not store a conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pillow_l3c._optional import require

require("numcodecs", "zarr")  # the install line, rather than a bare ModuleNotFoundError

from numcodecs.abc import Codec  # noqa: E402
from numcodecs.compat import ensure_contiguous_ndarray, ndarray_copy  # noqa: E402
from numcodecs.registry import register_codec  # noqa: E402

import pillow_l3c  # noqa: E402

__all__ = ["DTYPES", "L3C", "check_chunk"]

# The dtypes a chunk may have: the one place that says so, for ``L3C`` and the zarr v3
# codec (``pillow_l3c.zarr3``). A uint16 chunk of the other byte order is stored by
# value and carries ``_DTYPE_KEY``, so that it decodes to the bytes it came from:
# zarr v2 reads a decoded chunk's bytes as the array's dtype.
DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.uint8), np.dtype(np.uint16))
# .l3c stores grey (H, W) and (H, W, 1) alike, as mode L; a chunk of shape (H, W, 1)
# carries this text chunk so that it decodes to (H, W, 1) again, not (H, W).
_SHAPE_KEY = "numcodecs.shape"
_DTYPE_KEY = "numcodecs.dtype"
_CODERS = ("auto", "learned", "classical")


def check_chunk(shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Refuse a chunk shape or dtype that the codec cannot store exactly, with ValueError.

    One check for a chunk about to be encoded and for a zarr v3 array being created,
    so that both refuse the same arrays with the same words.
    """
    takes = (
        "the l3c codec takes chunks of shape (H, W) or (H, W, C) with C from 1 to 4 "
        f"and dtype {' or '.join(str(d) for d in DTYPES)}"
    )
    if np.dtype(dtype).newbyteorder("=") not in DTYPES:
        msg = f"{takes}; got dtype {np.dtype(dtype)}"
        raise ValueError(msg)
    ok = len(shape) == 2 or (len(shape) == 3 and 1 <= shape[2] <= 4)
    if not ok or 0 in shape:
        msg = f"{takes}; got shape {tuple(shape)}"
        raise ValueError(msg)


class L3C(Codec):
    """Lossless L3C compression of image chunks: uint8 or uint16, (H, W) or (H, W, 1 .. 4).

    ``model`` names a bundled model (``pillow_l3c.models()``; None is the default
    model), ``effort`` (1 .. 9, default 7) is how hard the encoder searches and
    ``coder`` is "auto" (each tile's choice), "learned" or "classical", as for
    ``pillow_l3c.encode``. None of them is needed to decode: each chunk's header
    names its model, so they only say how new chunks are written. Bad values raise
    ValueError here, when the codec is made, not at the first chunk written.
    """

    codec_id = "l3c"

    def __init__(
        self, model: str | None = None, effort: int | None = 7, coder: str = "auto"
    ) -> None:
        """Check the options now, so that a zarr array is not created with a codec that fails."""
        from pillow_l3c import _codec, _model

        if model is not None and not isinstance(model, str):
            msg = f"model must be a model name (str) or None, got {type(model).__name__}"
            raise ValueError(msg)
        _model.find(model)  # ValueError naming the available models
        if coder not in _CODERS:
            msg = f'coder must be "auto", "learned" or "classical", got {coder!r}'
            raise ValueError(msg)
        checked = _codec.options(model, effort, coder=coder)  # ValueError for a bad effort
        self.model = model
        self.effort = checked.effort  # None is the default, stored as the number it is
        self.coder = coder

    def get_config(self) -> dict[str, Any]:
        """The codec's JSON configuration: what zarr stores in the array's metadata."""
        return {
            "id": self.codec_id,
            "model": self.model,
            "effort": self.effort,
            "coder": self.coder,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> L3C:
        """The codec of a configuration from ``get_config`` (its ``id`` may be left in)."""
        config = {k: v for k, v in config.items() if k != "id"}
        return cls(**config)

    def encode(self, buf: Any) -> bytes:
        """The bytes of a .l3c file holding the chunk ``buf`` (an array with its shape).

        A flat buffer (bytes) has lost the image's shape, so it is refused.
        """
        if isinstance(buf, bytes | bytearray):
            msg = "the l3c codec takes an array with its shape, not flat bytes: an image's shape"
            raise ValueError(msg)
        array = np.asarray(buf)
        check_chunk(array.shape, array.dtype)
        metadata = {}
        if array.ndim == 3 and array.shape[2] == 1:
            metadata[_SHAPE_KEY] = ",".join(str(n) for n in array.shape)
        if not array.dtype.isnative:
            metadata[_DTYPE_KEY] = array.dtype.str
        return pillow_l3c.encode(
            np.ascontiguousarray(array),
            model=self.model,
            effort=self.effort,
            coder=self.coder,
            metadata=metadata or None,
        )

    def decode(self, buf: Any, out: Any = None) -> Any:
        """The chunk stored in ``buf``, as it was given to ``encode``, or copied into ``out``.

        ``out``, when given, must have the chunk's size; it is filled and returned,
        as numcodecs requires.
        """
        data = ensure_contiguous_ndarray(buf).tobytes()
        pixels = pillow_l3c.decode(data)
        info = pillow_l3c.read_metadata(data)
        if pixels.ndim == 2 and info.get(_SHAPE_KEY):
            pixels = pixels[:, :, np.newaxis]
        if pixels.dtype == np.uint16 and info.get(_DTYPE_KEY) in (">u2", "<u2"):
            pixels = pixels.astype(info[_DTYPE_KEY])
        return ndarray_copy(pixels, out)


register_codec(L3C)
