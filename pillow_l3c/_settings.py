"""How decoding runs when no call can say it: ``Image.open(...).load()`` takes no
options, so the Pillow plugin, the imageio plugin and the command line all read the
device and worker count from here (set by ``pillow_l3c.configure``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DecodeSettings:
    device: str | None = None  # "cpu" (default) or "cuda"
    workers: int | None = None  # tiles decoded at once (default: one per core)


decoding = DecodeSettings()
