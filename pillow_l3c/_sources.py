"""What our tools refuse to read from a source image, before coding a byte of it.

``l3c encode``, ``l3c compare`` and a cluster's encode task read sources through
Pillow; whatever Pillow would hand them lossily (frames after the first, the low
bytes of 16-bit colour) is refused here, in one place, rather than stored as a lossy
copy of the user's file. (``l3c encode`` reads 16-bit colour through imagecodecs
instead, ``_deep_files``.)
"""

from __future__ import annotations

from PIL import Image

from pillow_l3c._deep_files import reduced_depth


def check_frames(im: Image.Image) -> None:
    """OSError for a source of more than one frame: an L3C file holds one image."""
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        msg = f"it has {frames} frames and an L3C file holds one image"
        raise OSError(msg)


def check_source(im: Image.Image) -> None:
    """OSError, saying why, for a source that an L3C file would not hold exactly as
    Pillow reads it."""
    check_frames(im)
    raw = reduced_depth(im)
    if raw is not None:
        msg = (
            f"it has 16 bits per sample ({raw}), which Pillow reads as {im.mode} of 8 "
            "bits (Pillow keeps 16 bits only in grey): store it with pillow_l3c.encode "
            "or imageio.v3.imwrite from a uint16 array"
        )
        raise OSError(msg)
