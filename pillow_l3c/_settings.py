"""How decoding runs when no call can say it: ``Image.open(...).load()`` takes no
options, so the Pillow plugin, the imageio plugin and the command line all read the
device, worker count and tile limit from here (set by ``pillow_l3c.configure``)."""

from __future__ import annotations

from dataclasses import dataclass

# A tile is coded as one image, so decoding it holds the network's activations for all
# of its pixels at once (about 2 GB for 2048 x 2048, docs/FORMAT.md "Tiles"). Larger
# tiles are refused unless allowed, as Pillow refuses images over MAX_IMAGE_PIXELS.
DEFAULT_MAX_TILE_PIXELS = 2048 * 2048


@dataclass
class DecodeSettings:
    device: str | None = None  # "cpu" (default) or "cuda"
    workers: int | None = None  # tiles decoded at once (default: one per core)
    max_tile_pixels: int | None = DEFAULT_MAX_TILE_PIXELS  # None: no limit


decoding = DecodeSettings()
