"""How a learned model sees a tile's bands: as layers of three-channel views.

Both learned families take an RGB-shaped input. RGB is one layer; a grey band is a
layer with one coded plane; alpha is a second layer of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    """One pass of the model over a three-channel view of some of the image's bands.

    ``view`` picks the band shown to the network as R, G and B; ``coded`` are the bands
    coded as its colour planes, in order (R, then G coupled to R, then B). A grey band
    is seen as (Y, Y, Y) and only its R plane is coded: G and B would carry nothing.
    """

    view: tuple[int, int, int]
    coded: tuple[int, ...]


COLOUR = Layer((0, 1, 2), (0, 1, 2))
GREY = Layer((0, 0, 0), (0,))
LAYERS: dict[str, tuple[Layer, ...]] = {
    "RGB": (COLOUR,),
    "RGBA": (COLOUR, Layer((3, 3, 3), (3,))),
    "L": (GREY,),
    "LA": (GREY, Layer((1, 1, 1), (1,))),
}


def layers(mode: str) -> tuple[Layer, ...]:
    """The layers of ``mode``; a mode no learned model codes (P, 1) is a damaged file's.

    A learned model's streams are asked for only through a file's method table, so a
    mode without layers here can only come from a file that names a learned model for
    a palette or bilevel tile.
    """
    from pillow_l3c.errors import CorruptStreamError

    if mode not in LAYERS:
        msg = f"L3C file names a learned model for a tile of mode {mode}, which none codes"
        raise CorruptStreamError(msg)
    return LAYERS[mode]
