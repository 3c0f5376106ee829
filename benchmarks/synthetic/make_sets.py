"""Generate the synthetic (non-photo) test set: screenshots, plots, diagrams, pixel art.

The learned model is trained on photos; these images are what it codes badly and what
a classical tile coder (pillow_l3c/tile_coders/classical.py) is for. They are made
here, deterministically (fixed seeds, fixed text, fonts shipped with matplotlib), so
the set can be rebuilt anywhere and never mixes in a held-out corpus.

    python benchmarks/synthetic/make_sets.py [OUT_DIR]   # default benchmarks/data/synthetic

How each kind is made:

* ``terminal_*``: a dark (1920x1080) and a light (1280x800) terminal window drawn with
  PIL.ImageDraw: title bar, DejaVu Sans Mono text (antialiased by FreeType), coloured
  prompts, a directory listing, a compiler log and a `top`-like table.
* ``table_*``: a spreadsheet (1280x800): grid lines, zebra rows, a header row, numbers
  right-aligned, one highlighted cell, column letters.
* ``document_*``: an A4 page at 100 dpi (827x1169): headings, justified-looking
  paragraphs of DejaVu Serif, a bullet list and a small table.
* ``plot_*``: matplotlib at 100 dpi (800x600 and 1200x800), its default antialiasing:
  lines with a legend and grid, a scatter with alpha, grouped bars, a heatmap
  (imshow of smooth data + annotations) and a filled contour.
* ``diagram_*``: boxes, rounded rectangles and arrows with labels, drawn at 2x and
  downscaled with LANCZOS (antialiased edges as a vector tool would export them).
* ``pixelart_*``: a 32x32 sprite and a 160x90 scene of a 16-colour palette, scaled up
  with NEAREST (x8 and x8) as games and sprites are shown.
* ``ui_mockup``: a 1280x800 app window: sidebar, toolbar with a vertical gradient,
  buttons with shadows, text fields, a card holding a smooth "avatar" gradient.
* ``logo_*``: 512x512 RGBA logos (antialiased circles, a ring, text) on transparency.
* ``icon_*``: RGBA icons of 16, 24, 32, 48 and 64 px (drawn at 8x and downscaled).
* ``web_*`` (only where ``chromium`` is installed): small HTML pages (a docs page,
  a dashboard) written here and captured with ``chromium --headless --screenshot``
  at 1280x800; skipped without chromium, so the rest of the set never depends on it.
* ``p_*``: palette (P) images as GIFs hold them: a plot quantised to 64 colours
  (ADAPTIVE, no dither), pixel art in P with a transparent index, a 48x48 P icon
  with ``transparency``; saved as PNG, which keeps the palette and transparency.
* ``bilevel_fax``: a mode-1 page (1240x1754 at 150 dpi, text drawn then thresholded).

Runs in well under a minute on one core.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "synthetic"

LOREM = (  # noqa: SIM905 - prose reads better than a list of words
    "The quick brown fox jumps over the lazy dog. Lossless coding of screen content "
    "rewards exact prediction: flat colour, repeated glyphs and long runs cost almost "
    "nothing when the coder can copy what it has already seen. Photographs are "
    "different, every pixel carries noise, and a learned model predicts them better "
    "than any fixed rule. A file may hold both kinds, tile by tile."
).split()


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A DejaVu font from matplotlib's package data (always there with matplotlib)."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    return ImageFont.truetype(str(path), size)


def _words(rng: np.random.Generator, n: int) -> str:
    return " ".join(LOREM[int(i)] for i in rng.integers(0, len(LOREM), n))


def terminal(width: int, height: int, dark: bool, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    bg, fg = ((30, 30, 36), (204, 204, 204)) if dark else ((253, 253, 250), (40, 40, 40))
    img = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, width, 28], fill=(56, 56, 64) if dark else (222, 222, 222))
    for i, c in enumerate([(255, 95, 86), (255, 189, 46), (39, 201, 63)]):
        d.ellipse([10 + 20 * i, 8, 22 + 20 * i, 20], fill=c)
    title = _font("DejaVuSans.ttf", 13)
    d.text((width // 2 - 60, 7), "user@host: ~/src", font=title, fill=fg)
    mono = _font("DejaVuSansMono.ttf", 15)
    line_h = 19
    y = 36
    green, blue, red, yellow = (80, 220, 100), (90, 150, 255), (240, 80, 80), (230, 200, 60)
    files = ["README.md", "setup.py", "pillow_l3c", "tests", "benchmarks", "docs", "build"]
    while y < height - line_h:
        kind = rng.integers(0, 4)
        x = 8
        d.text((x, y), "user@host", font=mono, fill=green)
        d.text((x + 9 * 9, y), ":~/src$ ", font=mono, fill=blue)
        cmd = ["ls -la", "make -j2", "top -b -n1", "git log --oneline"][kind]
        d.text((x + 17 * 9, y), cmd, font=mono, fill=fg)
        y += line_h
        for _ in range(int(rng.integers(3, 9))):
            if y >= height - line_h:
                break
            if kind == 0:
                name = files[int(rng.integers(0, len(files)))]
                size = int(rng.integers(100, 99999))
                day, minute = int(rng.integers(1, 29)), int(rng.integers(0, 9))
                s = f"-rw-r--r--  1 user user {size:>6} Mar {day:>2} 12:0{minute} "
                d.text((x, y), s, font=mono, fill=fg)
                d.text((x + len(s) * 9, y), name, font=mono, fill=blue if "." not in name else fg)
            elif kind == 1:
                ok = rng.random() > 0.2
                s = f"gcc -O2 -c src/{_words(rng, 1).strip('.,').lower()}.c -o build/x.o"
                d.text((x, y), s, font=mono, fill=fg)
                if not ok:
                    y += line_h
                    d.text(
                        (x, y), "warning: unused variable 'n' [-Wunused]", font=mono, fill=yellow
                    )
            elif kind == 2:
                s = (
                    f"{int(rng.integers(1, 9999)):>6} user  20  0 "
                    f"{int(rng.integers(1, 999999)):>8} "
                    f"{rng.random() * 100:5.1f} {rng.random() * 10:4.1f}  python3"
                )
                d.text((x, y), s, font=mono, fill=fg)
            else:
                h = "".join("0123456789abcdef"[int(i)] for i in rng.integers(0, 16, 7))
                d.text((x, y), h, font=mono, fill=yellow)
                d.text((x + 8 * 9, y), _words(rng, 6), font=mono, fill=fg)
            y += line_h
        if rng.random() < 0.1:
            d.text((x, y), "error: build failed", font=mono, fill=red)
            y += line_h
    return img


def table(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = 1280, 800
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    f = _font("DejaVuSans.ttf", 13)
    fb = _font("DejaVuSans-Bold.ttf", 13)
    col_w, row_h, x0, y0 = 110, 22, 40, 30
    d.rectangle([0, 0, w, y0], fill=(240, 240, 240))
    d.rectangle([0, 0, x0, h], fill=(240, 240, 240))
    for c in range((w - x0) // col_w + 1):
        d.text((x0 + c * col_w + col_w // 2 - 4, 8), chr(65 + c), font=f, fill=(60, 60, 60))
    for r in range((h - y0) // row_h + 1):
        y = y0 + r * row_h
        if r % 2 == 1:
            d.rectangle([x0, y, w, y + row_h], fill=(246, 249, 255))
        d.text((8, y + 4), str(r + 1), font=f, fill=(60, 60, 60))
        for c in range((w - x0) // col_w + 1):
            x = x0 + c * col_w
            if r == 0:
                d.text((x + 6, y + 4), f"Col {c + 1}", font=fb, fill=(0, 0, 0))
            elif c == 0:
                d.text((x + 6, y + 4), _words(rng, 1)[:12], font=f, fill=(0, 0, 0))
            else:
                s = f"{rng.normal(1000, 400):,.2f}"
                tw = d.textlength(s, font=f)
                d.text((x + col_w - 6 - tw, y + 4), s, font=f, fill=(0, 0, 0))
    for c in range((w - x0) // col_w + 2):
        d.line([x0 + c * col_w, 0, x0 + c * col_w, h], fill=(212, 212, 212))
    for r in range((h - y0) // row_h + 2):
        d.line([0, y0 + r * row_h, w, y0 + r * row_h], fill=(212, 212, 212))
    d.rectangle(
        [x0 + 3 * col_w, y0 + 5 * row_h, x0 + 4 * col_w, y0 + 6 * row_h],
        outline=(26, 115, 232),
        width=2,
    )
    return img


def document(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = 827, 1169
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    head = _font("DejaVuSans-Bold.ttf", 24)
    body = _font("DejaVuSerif.ttf", 12)
    y = 70
    d.text((70, y), "1. Coding screen content", font=head, fill=(20, 20, 20))
    y += 50
    for para in range(6):
        for _ in range(int(rng.integers(4, 8))):
            d.text((70, y), _words(rng, 12), font=body, fill=(30, 30, 30))
            y += 17
        y += 12
        if para == 2:
            for _ in range(4):
                d.ellipse([80, y + 5, 86, y + 11], fill=(30, 30, 30))
                d.text((96, y), _words(rng, 8), font=body, fill=(30, 30, 30))
                y += 18
            y += 10
        if para == 3:
            for r in range(5):
                for c in range(4):
                    box = [70 + c * 170, y, 70 + (c + 1) * 170, y + 22]
                    d.rectangle(box, outline=(0, 0, 0), fill=(230, 230, 230) if r == 0 else None)
                    d.text(
                        (box[0] + 6, y + 4), f"{rng.integers(0, 1000)}", font=body, fill=(0, 0, 0)
                    )
                y += 22
            y += 16
        if y > h - 150:
            break
    d.text((w // 2 - 10, h - 50), "- 3 -", font=body, fill=(80, 80, 80))
    return img


def _fig_to_image(fig) -> Image.Image:
    fig.canvas.draw()
    arr = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return Image.fromarray(arr)


def plots(seed: int) -> dict[str, Image.Image]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    out = {}
    x = np.linspace(0, 10, 500)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    for k in range(4):
        ax.plot(
            x,
            np.sin(x * (k + 1) / 2) * np.exp(-x / (5 + k)) + rng.normal(0, 0.02, x.size),
            label=f"run {k}",
        )
    ax.set(title="Damped oscillation", xlabel="time [s]", ylabel="amplitude")
    ax.legend()
    ax.grid(True)
    out["plot_line"] = _fig_to_image(fig)

    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    for k in range(3):
        pts = rng.normal(k * 2, 1 + k * 0.3, (300, 2))
        ax.scatter(pts[:, 0], pts[:, 1], s=18, alpha=0.6, label=f"cluster {k}")
    ax.legend()
    ax.set_title("Scatter")
    out["plot_scatter"] = _fig_to_image(fig)

    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    groups = np.arange(6)
    for k in range(3):
        ax.bar(groups + k * 0.27, rng.uniform(2, 10, 6), width=0.27, label=f"codec {k}")
    ax.set_xticks(groups + 0.27, [f"set {g}" for g in groups])
    ax.legend()
    ax.set_ylabel("bits per pixel")
    out["plot_bar"] = _fig_to_image(fig)

    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    data = np.cumsum(np.cumsum(rng.normal(size=(12, 12)), 0), 1)
    im = ax.imshow(data, cmap="viridis")
    for i in range(12):
        for j in range(12):
            ax.text(j, i, f"{data[i, j]:.0f}", ha="center", va="center", color="w", fontsize=7)
    fig.colorbar(im)
    out["plot_heatmap"] = _fig_to_image(fig)

    fig, ax = plt.subplots(figsize=(12, 8), dpi=100)
    gx, gy = np.meshgrid(np.linspace(-3, 3, 300), np.linspace(-2, 2, 200))
    z = np.sin(gx * 2) * np.cos(gy * 3) + gx * 0.2
    cs = ax.contourf(gx, gy, z, levels=14, cmap="coolwarm")
    ax.contour(gx, gy, z, levels=14, colors="k", linewidths=0.5)
    fig.colorbar(cs)
    out["plot_contour"] = _fig_to_image(fig)
    return out


def _arrow(d: ImageDraw.ImageDraw, a: tuple[int, int], b: tuple[int, int], width: int) -> None:
    d.line([a, b], fill=(50, 50, 50), width=width)
    ang = math.atan2(b[1] - a[1], b[0] - a[0])
    size = width * 5
    p1 = (b[0] - size * math.cos(ang - 0.4), b[1] - size * math.sin(ang - 0.4))
    p2 = (b[0] - size * math.cos(ang + 0.4), b[1] - size * math.sin(ang + 0.4))
    d.polygon([b, p1, p2], fill=(50, 50, 50))


def diagram(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    s = 2
    w, h = 1280, 800
    img = Image.new("RGB", (w * s, h * s), (255, 255, 255))
    d = ImageDraw.Draw(img)
    f = _font("DejaVuSans.ttf", 16 * s)
    colours = [(220, 235, 252), (226, 245, 226), (255, 240, 210), (245, 225, 245)]
    boxes = []
    for r in range(3):
        for c in range(4):
            x = (80 + c * 300 + int(rng.integers(-20, 20))) * s
            y = (80 + r * 240 + int(rng.integers(-20, 20))) * s
            box = [x, y, x + 200 * s, y + 90 * s]
            d.rounded_rectangle(
                box, radius=14 * s, fill=colours[(r + c) % 4], outline=(60, 60, 60), width=2 * s
            )
            label = _words(rng, 2).strip(".,")[:16]
            d.text((x + 16 * s, y + 34 * s), label, font=f, fill=(20, 20, 20))
            boxes.append(box)
    for i in range(len(boxes) - 1):
        a, b = boxes[i], boxes[i + 1]
        _arrow(
            d,
            ((a[0] + a[2]) // 2 + 100 * s * (i % 4 < 3), (a[1] + a[3]) // 2),
            (
                b[0] - 2 * s if i % 4 < 3 else (b[0] + b[2]) // 2,
                (b[1] + b[3]) // 2 if i % 4 < 3 else b[1] - 2 * s,
            ),
            2 * s,
        )
    return img.resize((w, h), Image.Resampling.LANCZOS)


PALETTE16 = [
    (0, 0, 0), (29, 43, 83), (126, 37, 83), (0, 135, 81), (171, 82, 54), (95, 87, 79),
    (194, 195, 199), (255, 241, 232), (255, 0, 77), (255, 163, 0), (255, 236, 39),
    (0, 228, 54), (41, 173, 255), (131, 118, 156), (255, 119, 168), (255, 204, 170),
]  # fmt: skip


def pixel_indices(seed: int, w: int, h: int, sprite: bool) -> np.ndarray:
    """A 16-colour index plane: a symmetric sprite, or a scene of sky, hills and blocks."""
    rng = np.random.default_rng(seed)
    if sprite:
        half = rng.integers(0, 16, (h, w // 2))
        half[rng.random((h, w // 2)) < 0.45] = 0
        return np.concatenate([half, half[:, ::-1]], 1).astype(np.uint8)
    idx = np.full((h, w), 12, np.uint8)
    idx[: h // 3] = 1
    xs = np.arange(w)
    hill = (h * 0.55 + 8 * np.sin(xs / 9.0) + 4 * np.sin(xs / 3.7)).astype(int)
    for x in xs:
        idx[hill[x] :, x] = 3
        idx[hill[x] + 3 :, x] = 4
    for _ in range(12):
        bx, by = int(rng.integers(0, w - 8)), int(rng.integers(h // 3, h - 8))
        idx[by : by + 8, bx : bx + 8] = 9
        idx[by, bx : bx + 8] = 10
    for _ in range(30):
        idx[int(rng.integers(0, h // 3)), int(rng.integers(0, w))] = 7
    return idx


def _palette_image(idx: np.ndarray) -> Image.Image:
    img = Image.fromarray(idx, "P")
    img.putpalette([v for c in PALETTE16 for v in c])
    return img


def ui_mockup(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = 1280, 800
    img = Image.new("RGB", (w, h), (246, 247, 249))
    d = ImageDraw.Draw(img)
    f = _font("DejaVuSans.ttf", 14)
    fb = _font("DejaVuSans-Bold.ttf", 18)
    top = np.linspace([72, 99, 156], [52, 73, 120], 56).astype(np.uint8)
    img.paste(Image.fromarray(np.repeat(top[:, None, :], w, 1)), (0, 0))
    d.text((20, 18), "Dashboard", font=fb, fill=(255, 255, 255))
    d.rectangle([0, 56, 220, h], fill=(33, 37, 41))
    for i, name in enumerate(["Overview", "Images", "Codecs", "Settings", "Help"]):
        if i == 1:
            d.rectangle([0, 70 + i * 40, 220, 104 + i * 40], fill=(52, 58, 64))
        d.text((24, 78 + i * 40), name, font=f, fill=(220, 220, 220))
    for c in range(3):
        x = 250 + c * 340
        d.rounded_rectangle([x + 3, 83, x + 323, 303], radius=10, fill=(220, 222, 226))
        d.rounded_rectangle(
            [x, 80, x + 320, 300], radius=10, fill=(255, 255, 255), outline=(225, 225, 230)
        )
        d.text((x + 20, 100), f"Card {c + 1}", font=fb, fill=(33, 37, 41))
        for k in range(4):
            d.text((x + 20, 140 + k * 22), _words(rng, 5)[:36], font=f, fill=(90, 90, 90))
        d.rounded_rectangle([x + 20, 250, x + 120, 284], radius=6, fill=(13, 110, 253))
        d.text((x + 44, 258), "Open", font=f, fill=(255, 255, 255))
    yy, xx = np.mgrid[0:120, 0:120]
    av = np.stack([128 + 100 * np.sin(xx / 19.0), 128 + 90 * np.cos(yy / 23.0), 160 + 0 * xx], -1)
    av = (av + rng.normal(0, 2, av.shape)).clip(0, 255).astype(np.uint8)
    img.paste(Image.fromarray(av), (260, 340))
    for k in range(5):
        y = 340 + k * 60
        d.text((420, y), _words(rng, 2)[:20], font=f, fill=(60, 60, 60))
        d.rectangle([600, y - 4, 1100, y + 26], fill=(255, 255, 255), outline=(200, 200, 205))
        d.text((610, y + 2), _words(rng, 4)[:40], font=f, fill=(30, 30, 30))
    d.rectangle([0, h - 28, w, h], fill=(233, 236, 239))
    d.text((240, h - 22), "Ready - 12 images, 3 codecs", font=f, fill=(80, 80, 80))
    return img


def logo(seed: int, text: str) -> Image.Image:
    rng = np.random.default_rng(seed)
    s = 4
    n = 512
    img = Image.new("RGBA", (n * s, n * s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c1 = (*(int(v) for v in rng.integers(0, 200, 3)), 255)
    c2 = (*(int(v) for v in rng.integers(100, 256, 3)), 255)
    d.ellipse([40 * s, 40 * s, 472 * s, 472 * s], fill=c1)
    d.ellipse([110 * s, 110 * s, 402 * s, 402 * s], outline=c2, width=26 * s)
    d.text(
        (150 * s, 200 * s),
        text,
        font=_font("DejaVuSans-Bold.ttf", 100 * s),
        fill=(255, 255, 255, 255),
    )
    return img.resize((n, n), Image.Resampling.LANCZOS)


def icon(size: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    s = 8
    n = size * s
    img = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    col = tuple(int(v) for v in rng.integers(30, 230, 3))
    d.rounded_rectangle(
        [n // 16, n // 16, n - n // 16, n - n // 16], radius=n // 5, fill=(*col, 255)
    )
    d.polygon(
        [(n * 0.3, n * 0.25), (n * 0.3, n * 0.75), (n * 0.75, n * 0.5)], fill=(255, 255, 255, 255)
    )
    return img.resize((size, size), Image.Resampling.LANCZOS)


def bilevel(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = 1240, 1754
    img = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(img)
    f = _font("DejaVuSerif.ttf", 22)
    y = 120
    while y < h - 150:
        d.text((120, y), _words(rng, 11), font=f, fill=0)
        y += 34 if rng.random() > 0.1 else 70
    d.rectangle([120, 60, 1120, 64], fill=0)
    return img.point(lambda v: 255 if v > 128 else 0).convert("1", dither=Image.Dither.NONE)


HTML_DOC = """<!doctype html><html><head><style>
body{font-family:'DejaVu Sans',sans-serif;margin:0;color:#222;background:#fff}
nav{background:#2b303b;color:#ddd;padding:14px 30px;font-size:15px}
main{display:flex} aside{width:240px;background:#f4f5f7;padding:20px;font-size:14px;line-height:2}
article{padding:20px 40px;max-width:860px;font-size:15px;line-height:1.6}
pre{background:#f6f8fa;border:1px solid #ddd;padding:12px;font-family:'DejaVu Sans Mono',monospace;font-size:13px}
code{color:#c7254e} h1{font-size:28px} .note{border-left:4px solid #3c8dbc;background:#eef6fb;padding:8px 14px}
</style></head><body><nav>pillow-l3c &nbsp; Docs &nbsp; API &nbsp; Changelog</nav><main><aside>
Introduction<br>Installation<br><b>Tile coders</b><br>Classical<br>Learned<br>Format<br>FAQ</aside><article>
<h1>Tile coders</h1><p>A file lists the methods it uses in its header; each tile names one.
The encoder picks a <code>classical</code> coder for flat content and the learned model for photos.</p>
<div class="note">Decoding never depends on an optional extra.</div>
<pre>from PIL import Image
import pillow_l3c
Image.open("shot.png").save("shot.l3c")
img = Image.open("shot.l3c"); img.load()</pre>
<p>%s</p><p>%s</p><table border=1 cellspacing=0 cellpadding=6><tr><th>kind</th><th>bpsp</th></tr>
<tr><td>photo</td><td>3.1</td></tr><tr><td>screenshot</td><td>0.1</td></tr></table></article></main></body></html>"""  # noqa: E501

HTML_DASH = """<!doctype html><html><head><style>
body{font-family:'DejaVu Sans',sans-serif;margin:0;background:linear-gradient(#eef2f7,#dfe6ee);}
.grid{display:grid;grid-template-columns:repeat(3,1fr);gap:20px;padding:30px}
.card{background:#fff;border-radius:12px;box-shadow:0 4px 14px rgba(0,0,0,.15);padding:18px}
.big{font-size:40px;font-weight:bold;color:#0d6efd} .bar{height:14px;border-radius:7px;background:#0d6efd}
button{background:#198754;color:#fff;border:0;border-radius:6px;padding:8px 16px;font-size:14px}
</style></head><body><div class="grid">%s</div></body></html>"""  # noqa: E501


def web_pages(seed: int) -> dict[str, Image.Image]:
    """HTML pages captured by headless chromium; empty where chromium is not installed."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return {}
    rng = np.random.default_rng(seed)
    cards = "".join(
        f'<div class="card"><div>Metric {i}</div><div class="big">{rng.integers(10, 999)}</div>'
        f'<div class="bar" style="width:{rng.integers(10, 100)}%"></div><p>{_words(rng, 10)}</p>'
        f"<button>Details</button></div>"
        for i in range(9)
    )
    pages = {
        "web_docs": HTML_DOC % (_words(rng, 60), _words(rng, 50)),
        "web_dashboard": HTML_DASH % cards,
    }
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, html in pages.items():
            src, png = Path(tmp) / f"{name}.html", Path(tmp) / f"{name}.png"
            src.write_text(html)
            cmd = [
                exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--screenshot={png}", "--window-size=1280,800",
                src.as_uri(),
            ]  # fmt: skip
            try:
                subprocess.run(cmd, capture_output=True, timeout=60, check=True)
                with Image.open(png) as im:
                    out[name] = im.convert("RGB")
            except (OSError, subprocess.SubprocessError) as e:
                print(f"skipping {name}: {e}", file=sys.stderr)
    return out


def make_all() -> dict[str, Image.Image]:
    images: dict[str, Image.Image] = {
        "terminal_dark_1920x1080": terminal(1920, 1080, True, 1),
        "terminal_light_1280x800": terminal(1280, 800, False, 2),
        "table_1280x800": table(3),
        "document_827x1169": document(4),
    }
    images.update(plots(5))
    images["diagram_1280x800"] = diagram(6)
    sprite = pixel_indices(7, 32, 32, sprite=True)
    images["pixelart_sprite_256"] = (
        _palette_image(sprite).convert("RGB").resize((256, 256), Image.Resampling.NEAREST)
    )
    scene = pixel_indices(8, 160, 90, sprite=False)
    images["pixelart_scene_1280x720"] = (
        _palette_image(scene).convert("RGB").resize((1280, 720), Image.Resampling.NEAREST)
    )
    images["ui_mockup_1280x800"] = ui_mockup(9)
    images["logo_a_512"] = logo(10, "L3")
    images["logo_b_512"] = logo(11, "px")
    for k, size in enumerate([16, 24, 32, 48, 64]):
        images[f"icon_{size}"] = icon(size, 20 + k)
    images.update(web_pages(12))
    p_plot = images["plot_line"].quantize(
        64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    images["p_plot_800x600"] = p_plot
    p_scene = _palette_image(pixel_indices(13, 160, 90, sprite=False)).resize(
        (640, 360), Image.Resampling.NEAREST
    )
    p_scene.info["transparency"] = 1  # the sky's index is transparent
    images["p_scene_transparent_640x360"] = p_scene
    ic = icon(48, 30).quantize(32, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    images["p_icon_48"] = ic
    images["bilevel_fax_1240x1754"] = bilevel(14)
    return images


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, img in make_all().items():
        kw = {"transparency": img.info["transparency"]} if "transparency" in img.info else {}
        img.save(args.out / f"{name}.png", **kw)
        print(f"{name}.png {img.mode} {img.size[0]}x{img.size[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
