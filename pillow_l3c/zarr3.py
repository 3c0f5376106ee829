"""L3C as a zarr v3 codec (``zarr_format=3``): the array-to-bytes ``serializer`` of an array.

zarr v3 arrays take numcodecs codecs only through wrappers, and zarr's own wrappers
cover numcodecs' codecs, not third-party ones; this is ``pillow_l3c.numcodecs.L3C``
behind zarr's public ``ArrayBytesCodec`` interface. Its name is "numcodecs.l3c" and
its configuration that of ``L3C.get_config()`` without "id", zarr's convention for a
numcodecs codec in v3 metadata, so that any reader that maps "numcodecs.NAME" to
the numcodecs registry reads it too. zarr finds it through the ``zarr.codecs`` entry
point; importing this module registers it as well.

The array's dtype and chunk shape are checked when the array is created
(``validate``), by the rule the numcodecs codec applies to each chunk
(``pillow_l3c.numcodecs.check_chunk``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pillow_l3c._optional import require

require("zarr", "zarr")  # the install line, rather than a bare ModuleNotFoundError

from zarr.abc.codec import ArrayBytesCodec  # noqa: E402
from zarr.core.common import parse_named_configuration  # noqa: E402
from zarr.registry import register_codec  # noqa: E402

from pillow_l3c import numcodecs as _l3c_numcodecs  # noqa: E402

if TYPE_CHECKING:
    from typing import Self

    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer, NDBuffer
    from zarr.core.chunk_grids import ChunkGrid
    from zarr.core.common import JSON
    from zarr.core.dtype.wrapper import TBaseDType, TBaseScalar, ZDType

__all__ = ["L3C", "NAME"]

NAME = "numcodecs.l3c"


@dataclass(frozen=True)
class L3C(ArrayBytesCodec):
    """Chunks stored as .l3c files, in a zarr v3 array: ``serializer=L3C(...)``.

    ``model``, ``effort`` and ``coder`` are those of ``pillow_l3c.numcodecs.L3C``
    (checked when the codec is made); the dtypes and chunk shapes it takes are
    too: uint8 or uint16, (H, W) or (H, W, 1 .. 4).
    """

    is_fixed_size = False

    model: str | None
    effort: int
    coder: str

    def __init__(
        self, *, model: str | None = None, effort: int | None = 7, coder: str = "auto"
    ) -> None:
        """Check the options through the numcodecs codec, which does the coding."""
        codec = _l3c_numcodecs.L3C(model=model, effort=effort, coder=coder)
        object.__setattr__(self, "model", codec.model)
        object.__setattr__(self, "effort", codec.effort)
        object.__setattr__(self, "coder", codec.coder)

    @property
    def _codec(self) -> _l3c_numcodecs.L3C:
        return _l3c_numcodecs.L3C(model=self.model, effort=self.effort, coder=self.coder)

    @classmethod
    def from_dict(cls, data: dict[str, JSON]) -> Self:
        """The codec of its v3 metadata: {"name": "numcodecs.l3c", "configuration": ...}."""
        _, configuration = parse_named_configuration(data, NAME, require_configuration=False)
        return cls(**(configuration or {}))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, JSON]:
        """The codec's v3 metadata: the numcodecs configuration without its "id"."""
        return {
            "name": NAME,
            "configuration": {"model": self.model, "effort": self.effort, "coder": self.coder},
        }

    def validate(
        self,
        *,
        shape: tuple[int, ...],
        dtype: ZDType[TBaseDType, TBaseScalar],
        chunk_grid: ChunkGrid,
    ) -> None:
        """Refuse, when the array is created, a dtype or chunk shape no chunk could be stored in."""
        chunk_shape = getattr(chunk_grid, "chunk_shape", shape)
        _l3c_numcodecs.check_chunk(tuple(chunk_shape), dtype.to_native_dtype())

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        pixels = await asyncio.to_thread(self._codec.decode, chunk_bytes.to_bytes())
        pixels = pixels.astype(chunk_spec.dtype.to_native_dtype(), copy=False)
        return chunk_spec.prototype.nd_buffer.from_ndarray_like(pixels.reshape(chunk_spec.shape))

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        data = await asyncio.to_thread(self._codec.encode, chunk_array.as_numpy_array())
        return chunk_spec.prototype.buffer.from_bytes(data)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        """Not known before coding: a compressor's output size depends on the pixels."""
        raise NotImplementedError


register_codec(NAME, L3C)
