"""What our tools refuse to read from a source image, before coding a byte of it.

``l3c encode``, ``l3c compare`` and a cluster's encode task read sources through
Pillow; whatever Pillow would hand them lossily (frames after the first, the low
bytes of 16-bit colour) is refused here, in one place, rather than stored as a lossy
copy of the user's file.
"""

from __future__ import annotations

from PIL import Image


def check_source(im: Image.Image) -> None:
    """OSError, saying why, for a source that an L3C file would not hold exactly."""
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        msg = f"it has {frames} frames and an L3C file holds one image"
        raise OSError(msg)
    refuse_reduced_depth(im)


def refuse_reduced_depth(im: Image.Image) -> None:
    """Refuse a source whose samples Pillow reads with fewer bits than the file has.

    Pillow holds 16 bits per sample only in grey (I;16): a 16-bit RGB, RGBA or LA PNG
    or TIFF opens as 8-bit RGB or RGBA, its low bytes dropped, and coding that would
    store a lossy copy of the user's file without a word.
    """
    if im.mode.startswith("I"):
        return
    for tile in im.tile or []:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        raw = next((a for a in args if isinstance(a, str)), "")
        if ";16" in raw:
            msg = (
                f"it has 16 bits per sample ({raw}), which Pillow reads as {im.mode} of 8 "
                "bits (Pillow keeps 16 bits only in grey): store it with pillow_l3c.encode "
                "or imageio.v3.imwrite from a uint16 array"
            )
            raise OSError(msg)
