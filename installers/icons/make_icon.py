"""Draw CFFD Studio's icon: an SVG, PNGs for Linux, an .ico for Windows and an .icns for macOS.

One drawing, described once (a face under a magnifying glass on a dark tile), rendered by
Pillow for the bitmaps and written as SVG text for the scalable icon.

    python installers/icons/make_icon.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

UNITS = 256  # the drawing's coordinate system; every shape below is in these units
TILE = "#1d2b3a"
INK = "#f4f6f8"
AMBER = "#f2b233"
LENS_TINT = (242, 178, 51, 46)

TILE_RADIUS = 52
FACE = (118, 120, 60, 78)  # centre x, centre y, radius x, radius y
FACE_WIDTH = 12
EYES = ((96, 106), (140, 106))
EYE_RADIUS = 9
MOUTH = ((100, 156), (136, 156))
MOUTH_WIDTH = 9
LENS = (172, 172, 42)  # centre x, centre y, radius
LENS_WIDTH = 13
HANDLE = ((203, 203), (232, 232))
HANDLE_WIDTH = 22

PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
ICO_SIZES = [(s, s) for s in (16, 24, 32, 48, 64, 128, 256)]


def svg() -> str:
    """The drawing as an SVG document."""
    cx, cy, rx, ry = FACE
    lx, ly, lr = LENS
    (mx1, my1), (mx2, my2) = MOUTH
    (hx1, hy1), (hx2, hy2) = HANDLE
    eyes = "\n".join(f'  <circle cx="{x}" cy="{y}" r="{EYE_RADIUS}" fill="{INK}"/>' for x, y in EYES)
    tint = f"rgba({LENS_TINT[0]},{LENS_TINT[1]},{LENS_TINT[2]},{LENS_TINT[3] / 255:.2f})"
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{UNITS}" height="{UNITS}" viewBox="0 0 {UNITS} {UNITS}">
  <title>CFFD Studio</title>
  <rect x="0" y="0" width="{UNITS}" height="{UNITS}" rx="{TILE_RADIUS}" fill="{TILE}"/>
  <ellipse cx="{cx}" cy="{cy}" rx="{rx}" ry="{ry}" fill="none" stroke="{INK}" stroke-width="{FACE_WIDTH}"/>
{eyes}
  <line x1="{mx1}" y1="{my1}" x2="{mx2}" y2="{my2}" stroke="{INK}" stroke-width="{MOUTH_WIDTH}" stroke-linecap="round"/>
  <circle cx="{lx}" cy="{ly}" r="{lr}" fill="{tint}" stroke="{AMBER}" stroke-width="{LENS_WIDTH}"/>
  <line x1="{hx1}" y1="{hy1}" x2="{hx2}" y2="{hy2}" stroke="{AMBER}" stroke-width="{HANDLE_WIDTH}" stroke-linecap="round"/>
</svg>
"""


def _round_line(draw: ImageDraw.ImageDraw, start, end, width: float, fill, k: float) -> None:
    (x1, y1), (x2, y2) = start, end
    draw.line([(x1 * k, y1 * k), (x2 * k, y2 * k)], fill=fill, width=round(width * k))
    for x, y in (start, end):
        r = width * k / 2
        draw.ellipse([x * k - r, y * k - r, x * k + r, y * k + r], fill=fill)


def render(size: int) -> Image.Image:
    """The drawing as a ``size`` x ``size`` RGBA image (drawn 4x larger, then reduced, for smooth edges)."""
    big = size * 4
    k = big / UNITS
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=TILE_RADIUS * k, fill=TILE)
    cx, cy, rx, ry = FACE
    draw.ellipse(
        [(cx - rx) * k, (cy - ry) * k, (cx + rx) * k, (cy + ry) * k], outline=INK, width=round(FACE_WIDTH * k)
    )
    for x, y in EYES:
        draw.ellipse(
            [(x - EYE_RADIUS) * k, (y - EYE_RADIUS) * k, (x + EYE_RADIUS) * k, (y + EYE_RADIUS) * k], fill=INK
        )
    _round_line(draw, *MOUTH, MOUTH_WIDTH, INK, k)
    lens = Image.new("RGBA", image.size, (0, 0, 0, 0))
    lx, ly, lr = LENS
    ImageDraw.Draw(lens).ellipse([(lx - lr) * k, (ly - lr) * k, (lx + lr) * k, (ly + lr) * k], fill=LENS_TINT)
    image = Image.alpha_composite(image, lens)
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        [(lx - lr) * k, (ly - lr) * k, (lx + lr) * k, (ly + lr) * k],
        outline=AMBER,
        width=round(LENS_WIDTH * k),
    )
    _round_line(draw, *HANDLE, HANDLE_WIDTH, AMBER, k)
    return image.resize((size, size), Image.LANCZOS)


def write_icons(out: Path) -> dict[str, Path]:
    """Write cffd-studio.svg, cffd-studio-N.png (and cffd-studio.png at 256), .ico and .icns into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"svg": out / "cffd-studio.svg"}
    paths["svg"].write_text(svg(), encoding="utf-8")
    for size in PNG_SIZES:
        render(size).save(out / f"cffd-studio-{size}.png")
    paths["png"] = out / "cffd-studio.png"
    render(256).save(paths["png"])
    largest = render(512)
    paths["ico"] = out / "cffd-studio.ico"
    largest.save(paths["ico"], sizes=ICO_SIZES)
    paths["icns"] = out / "cffd-studio.icns"
    largest.save(paths["icns"])
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for kind, path in write_icons(Path(sys.argv[1])).items():
        print(f"{kind:5} {path}")
