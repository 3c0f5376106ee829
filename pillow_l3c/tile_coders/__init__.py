"""Tile coders: one module per method, behind one interface (``base.TileCoder``).

    polyphase.py   a pixel-context learned model (the default family)
    l3c.py         the paper's learned latents (L3C, CVPR 2019)
    classical.py   palettes, runs and copies, for synthetic content (no network)

``coder_for`` gives the coder of a method-table entry; the container and the codec
never ask which method a coder is.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from pillow_l3c.tile_coders.base import CLASSICAL, LEARNED, EncodeOptions, Method, TileCoder

if TYPE_CHECKING:
    from pillow_l3c._model import LoadedModel

__all__ = ["EncodeOptions", "Method", "TileCoder", "classical_coders", "coder_for", "learned"]


def learned(model: LoadedModel) -> TileCoder:
    """The tile coder of a loaded model, by its family."""
    if model.family == "polyphase":
        from pillow_l3c.tile_coders.polyphase import PolyphaseCoder

        return PolyphaseCoder(model)
    from pillow_l3c.tile_coders.l3c import L3cCoder

    return L3cCoder(model)


@cache
def classical_coders() -> dict[Method, TileCoder]:
    """The classical coders this package has, by their method-table entry."""
    from pillow_l3c.tile_coders.classical import ClassicalCoder

    coder = ClassicalCoder()
    return {coder.method: coder}


def coder_for(method: Method, device: str | None = None) -> TileCoder:
    """The coder of a method-table entry; ModelMismatchError / CorruptStreamError for
    a model that is not here or a classical coder this version does not have."""
    from pillow_l3c.errors import CorruptStreamError

    if method.kind == LEARNED:
        from pillow_l3c import _model

        return learned(_model.load(device, wanted=method.id))
    if method.kind == CLASSICAL:
        coders = classical_coders()
        if method in coders:
            return coders[method]
        msg = f"L3C file uses the coder {method.describe()!r}, which this version does not have"
        raise CorruptStreamError(msg)
    msg = f"L3C file uses a coding method of unknown kind {method.kind}"
    raise CorruptStreamError(msg)
