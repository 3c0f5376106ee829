"""What each path in and out of .l3c keeps of a photo's metadata: a Markdown table.

    python benchmarks/metadata_paths.py            # this checkout
    PYTHONPATH=/path/to/old/checkout python benchmarks/metadata_paths.py   # another

The photo is tests/images/ladybird_64x48.png given an ICC profile, EXIF (with an
orientation), XMP, two tEXt chunks, an iTXt caption and 300 dpi; each path takes it
in and out, and the table says, per kind of metadata, whether it came back
unchanged. It runs on older versions of the package too (a path that fails says so),
which is how the closing note of "Nothing lost" compares before and after.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms, PngImagePlugin

import pillow_l3c

HERE = Path(__file__).resolve().parent.parent
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
TEXT = {"parameters": "a ladybird, steps: 20", "Caption": "Marienkäfer"}
KINDS = ["pixels", "ICC", "EXIF", "XMP", "text", "dpi"]


def photo(path: Path) -> Image.Image:
    with Image.open(HERE / "tests/images/ladybird_64x48.png") as im:
        image = im.convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", TEXT["parameters"])
    info.add_itxt("Caption", TEXT["Caption"], "de", "")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    image.save(path, pnginfo=info, exif=exif.tobytes(), icc_profile=ICC, dpi=(300, 300))
    with Image.open(path) as im:
        im.load()
        return im


def kept(im: Image.Image | None, info: dict[str, Any], pixels: np.ndarray | None) -> list[str]:
    """One mark per kind: "yes" when it came back unchanged."""
    src = np.asarray(Image.open(HERE / "tests/images/ladybird_64x48.png").convert("RGB"))
    text = getattr(im, "text", None) or {k: v for k, v in info.items() if isinstance(v, str)}
    exif = info.get("exif") or b""
    orientation = Image.Exif()
    if exif:
        orientation.load(exif)
    checks = [
        pixels is not None and pixels.shape == src.shape and (pixels == src).all(),
        info.get("icc_profile") == ICC,
        orientation.get(0x0112) == 6,
        info.get("xmp") == XMP or info.get("xmp") == XMP.decode(),
        all(text.get(k) == v for k, v in TEXT.items()),
        abs(float(tuple(info.get("dpi", (0, 0)))[0]) - 300) < 0.01,  # noqa: RUF015
    ]
    return ["yes" if c else "**no**" for c in checks]


def opened(path: Path) -> tuple[Image.Image, dict[str, Any], np.ndarray]:
    im = Image.open(path)
    im.load()
    return im, dict(im.info), np.asarray(im.convert("RGB"))


def l3c(*args: str) -> int:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pillow_l3c.cli import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        check=False,
    ).returncode


def paths(tmp: Path, src: Image.Image) -> dict[str, Callable[[], Any]]:
    def pillow() -> Any:
        src.save(tmp / "p.l3c")
        return opened(tmp / "p.l3c")

    def pillow_copy() -> Any:
        src.copy().save(tmp / "c.l3c")
        return opened(tmp / "c.l3c")

    def cli_png() -> Any:
        assert l3c("encode", str(tmp / "photo.png"), "-o", str(tmp / "e.l3c"), "-q") == 0
        assert l3c("decode", str(tmp / "e.l3c"), "-o", str(tmp / "e.png"), "-q") == 0
        return opened(tmp / "e.png")

    def cli_webp() -> Any:
        assert l3c("decode", str(tmp / "e.l3c"), "-o", str(tmp / "e.webp"), "-q") == 0
        return opened(tmp / "e.webp")

    def cli_crop() -> Any:
        assert l3c("crop", str(tmp / "e.l3c"), "0,0,64,48", "-o", str(tmp / "k.png")) == 0
        return opened(tmp / "k.png")

    def imageio_v3() -> Any:
        import imageio.v3 as iio

        extra = {k: src.info[k] for k in ("icc_profile", "exif", "xmp", "dpi")}
        try:
            iio.imwrite(tmp / "i.l3c", np.asarray(src), **extra, text=dict(src.text))
        except TypeError:
            iio.imwrite(tmp / "i.l3c", np.asarray(src))
        return None, dict(iio.immeta(tmp / "i.l3c")), iio.imread(tmp / "i.l3c")

    def array_api() -> Any:
        try:
            data = pillow_l3c.encode(np.asarray(src), metadata=dict(src.info))
        except TypeError:
            data = pillow_l3c.encode(np.asarray(src))
        meta = getattr(pillow_l3c, "read_metadata", lambda d: {})(data)
        return None, dict(meta), pillow_l3c.decode(data)

    def cluster() -> Any:
        from pillow_l3c import cluster

        cluster.code_file(str(tmp / "photo.png"), str(tmp / "d.l3c"), cluster.ENCODE)
        cluster.code_file(str(tmp / "d.l3c"), str(tmp / "d.png"), cluster.DECODE)
        return opened(tmp / "d.png")

    return {
        "`Image.save` / `Image.open`": pillow,
        "`Image.save` of a `copy()`": pillow_copy,
        "`l3c encode`, `l3c decode` to .png": cli_png,
        "`l3c decode` to .webp": cli_webp,
        "`l3c crop` to .png": cli_crop,
        "imageio v3 `imwrite` / `immeta`, `imread`": imageio_v3,
        "`pillow_l3c.encode` / `read_metadata`, `decode`": array_api,
        "cluster task (`code_file`), encode and decode": cluster,
    }


def overwrite_check(tmp: Path) -> str:
    """Whether `l3c decode DIR` writes over the original photo beside its .l3c."""
    folder = tmp / "archive"
    folder.mkdir()
    shutil.copy(tmp / "photo.png", folder / "photo.png")
    before = (folder / "photo.png").read_bytes()
    l3c("encode", str(folder), "-q")
    code = l3c("decode", str(folder), "-q")
    same = (folder / "photo.png").read_bytes() == before
    return f"exit {code}, original {'unchanged' if same else '**replaced**'}"


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    src = photo(tmp / "photo.png")
    print(f"pillow_l3c {pillow_l3c.__version__} from {Path(pillow_l3c.__file__).parent}\n")
    print("| path | " + " | ".join(KINDS) + " |")
    print("|---|" + "---|" * len(KINDS))
    for name, run in paths(tmp, src).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                im, info, pixels = run()
                marks = kept(im, info, pixels)
            except Exception as e:  # an older version may lack a path
                marks = [f"fails: {type(e).__name__}"] + [""] * (len(KINDS) - 1)
        print(f"| {name} | " + " | ".join(marks) + " |")
    print(f"\n`l3c decode DIR` beside the originals: {overwrite_check(tmp)}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
