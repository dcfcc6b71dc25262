"""The PDF's page and its building blocks (reportlab): margins, styles, tables, pictures, page numbers.

What the report says is laid out by ``pdf``; this module knows only how a page looks.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm, inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import CondPageBreak, Image, Paragraph, Table, TableStyle

SIDE_MARGIN, TOP_MARGIN, BOTTOM_MARGIN = 1.8 * cm, 1.6 * cm, 1.8 * cm
FOOTER_BASELINE = 1.1 * cm
FOOTER_ZONE = (1.5 * cm, 0.9 * cm)  # from and to, above the page's bottom edge: the footer line's only place
PAGE_WIDTH = A4[0] - 2 * SIDE_MARGIN
PRINT_DPI = 250
TABLE_START = 3.5 * cm  # a heading, a table's header row and its first rows
JPEG_QUALITY = 85


def plain(value) -> str:
    """Characters the built-in fonts lack become '?'."""
    return str(value).encode("latin-1", "replace").decode("latin-1")


def text(value) -> str:
    """Safe for a reportlab Paragraph: XML-escaped; characters the built-in fonts lack become '?'."""
    return escape(plain(value))


def clipped(line: str, width: float, font: str = "Helvetica", size: float = 7) -> str:
    """``line`` cut short with "..." to ``width`` points, for a line drawn where nothing wraps."""
    if stringWidth(line, font, size) <= width:
        return line
    while line and stringWidth(line + "...", font, size) > width:
        line = line[:-1]
    return line + "..."


class Styles:
    def __init__(self):
        base = getSampleStyleSheet()
        self.title = ParagraphStyle("title", parent=base["Title"], fontSize=17, spaceAfter=4)
        heading = {"keepWithNext": 1}
        self.h1 = ParagraphStyle(
            "h1", parent=base["Heading1"], fontSize=13.5, spaceBefore=10, spaceAfter=5, **heading
        )
        self.h2 = ParagraphStyle(
            "h2", parent=base["Heading2"], fontSize=11.5, spaceBefore=8, spaceAfter=4, **heading
        )
        self.h3 = ParagraphStyle(
            "h3", parent=base["Heading3"], fontSize=10, spaceBefore=6, spaceAfter=3, **heading
        )
        self.body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9, leading=12, alignment=TA_LEFT)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9.5)
        self.small_heading = ParagraphStyle(
            "small_heading", parent=self.small, fontName="Helvetica-Bold", **heading
        )
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8, leading=10)
        self.mono = ParagraphStyle("mono", parent=self.cell, fontName="Courier", fontSize=7.5, leading=9.5)
        self.verdict = ParagraphStyle(
            "verdict", parent=self.body, fontSize=11, leading=14, fontName="Helvetica-Bold"
        )


def cell_table(rows: list[list], widths: list[float], header: bool = False, mono_cols=()) -> Table:
    style = Styles()
    cells = []
    for r, row in enumerate(rows):
        out = []
        for c, value in enumerate(row):
            if hasattr(value, "wrapOn"):
                out.append(value)
                continue
            chosen = style.mono if c in mono_cols and not (header and r == 0) else style.cell
            bold = header and r == 0
            out.append(Paragraph(f"<b>{text(value)}</b>" if bold else text(value), chosen))
        cells.append(out)
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
    commands = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")))
    else:
        commands.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f4f5f7")))
    table.setStyle(TableStyle(commands))
    return table


def pair_table(rows: list[tuple[str, object]], key_width: float = 4.2 * cm, mono_keys=()) -> Table:
    table = cell_table([[k, v] for k, v in rows], [key_width, PAGE_WIDTH - key_width])
    style = Styles()
    for index, (key, value) in enumerate(rows):
        if key in mono_keys:
            table._cellvalues[index][1] = Paragraph(text(value), style.mono)
    return table


def print_picture(data: bytes, width: float) -> Image:
    """A picture printed ``width`` points wide: resampled to PRINT_DPI at that size (never enlarged) and
    JPEG-compressed. Every picture of the report is photographic (frames, faces, heat maps, spectra);
    the charts are vector drawings."""
    with PILImage.open(io.BytesIO(data)) as picture:
        picture = picture.convert("RGB")
        pixels = round(width / inch * PRINT_DPI)
        if picture.width > pixels:
            picture = picture.resize(
                (pixels, round(picture.height * pixels / picture.width)), PILImage.LANCZOS
            )
        jpeg = io.BytesIO()
        # Full colour resolution (no 4:2:0 subsampling): the heat map's thin box and colour edges stay sharp.
        picture.save(jpeg, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    image = Image(io.BytesIO(jpeg.getvalue()))
    image.drawWidth, image.drawHeight = width, image.imageHeight * width / image.imageWidth
    return image


def numbered_canvas(footer: str):
    """A canvas class that prints "page n of N" and the footer on every page (two passes over the pages)."""

    class NumberedCanvas(pdfcanvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont("Helvetica", 7)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawString(SIDE_MARGIN, FOOTER_BASELINE, footer)
                self.drawRightString(
                    A4[0] - SIDE_MARGIN, FOOTER_BASELINE, f"page {self._pageNumber} of {total}"
                )
                super().showPage()
            super().save()

    return NumberedCanvas


def heading_over_table(heading: Paragraph, table: Table) -> list:
    """A heading over a table that may run over pages (its header row repeated on each): both start here
    when the heading, the header and the first rows fit, else on the next page. The heading's keepWithNext
    is off: it would carry a table longer than the space left whole to the next page, leaving a gap."""
    heading.keepWithNext = 0
    return [CondPageBreak(TABLE_START), heading, table]


# Pictures as binary streams: reportlab's ASCII85 text encoding runs in pure Python without its
# optional C accelerator (2.6 s of a 3 s report with nine pictures) and makes the file a quarter larger.
rl_config.useA85 = 0


def markdown_paragraphs(card: str, style: Styles) -> list:
    """The model card's Markdown as paragraphs: headings, bullets and numbered lines kept readable."""
    out = []
    for line in card.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            out.append(Paragraph(text(line.lstrip("#").strip()), style.small_heading))
        else:
            indent = (
                "&nbsp;&nbsp;" if line.startswith(("- ", "1", "2", "3", "4", "5", "6", "7", "8", "9")) else ""
            )
            out.append(Paragraph(indent + text(line), style.small))
    return out
