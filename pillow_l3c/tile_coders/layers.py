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
