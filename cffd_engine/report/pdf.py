"""The PDF of a report, drawn with reportlab from the typed ``Report`` whose ``to_dict`` is the JSON twin.

Every figure printed comes from that one object, so the PDF and the JSON cannot
disagree; only the pictures (PNG bytes kept on the results' key frames) are not in
the JSON, which records their SHA-256 instead.
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
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from cffd_engine.analysis.result import LIKELY_MANIPULATED, NOT_APPLICABLE, AnalysisResult, KeyFrame
from cffd_engine.report import charts
from cffd_engine.report.document import Report
from cffd_engine.report.sections import (
    evidence_rows,
    model_rows,
    settings_rows,
    software_rows,
    track_rows,
)

SIDE_MARGIN, TOP_MARGIN, BOTTOM_MARGIN = 1.8 * cm, 1.6 * cm, 1.8 * cm
FOOTER_BASELINE = 1.1 * cm
FOOTER_ZONE = (1.5 * cm, 0.9 * cm)  # from and to, above the page's bottom edge: the footer line's only place
PAGE_WIDTH = A4[0] - 2 * SIDE_MARGIN
KEY_FRAME_WIDTH = 9.5 * cm
PRINT_DPI = 250
TABLE_START = 3.5 * cm  # a heading, a table's header row and its first rows
JPEG_QUALITY = 85
VERDICT_COLOURS = {
    LIKELY_MANIPULATED: colors.HexColor("#f8d7da"),
    NOT_APPLICABLE: colors.HexColor("#e2e3e5"),
}
OK_COLOUR = colors.HexColor("#d4edda")
ALARM_COLOUR = colors.HexColor("#f5c6cb")


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


def _table(rows: list[list], widths: list[float], header: bool = False, mono_cols=()) -> Table:
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


def _pairs(rows: list[tuple[str, object]], key_width: float = 4.2 * cm, mono_keys=()) -> Table:
    table = _table([[k, v] for k, v in rows], [key_width, PAGE_WIDTH - key_width])
    style = Styles()
    for index, (key, value) in enumerate(rows):
        if key in mono_keys:
            table._cellvalues[index][1] = Paragraph(text(value), style.mono)
    return table


def _picture(data: bytes, width: float) -> Image:
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


def _numbered_canvas(footer: str):
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


def _verdict_box(result: AnalysisResult, style: Styles) -> Table:
    words = result.verdict_words
    if result.verdict == NOT_APPLICABLE:
        reason = result.not_applicable.reason if result.not_applicable else ""
        detail = reason[:1].upper() + reason[1:]
    else:
        detail = (
            f"Score {result.video_probability:.3f} (mean fake probability of the most suspicious stretch, "
            f"track {result.deciding_track}); threshold {result.threshold:.2f}"
        )
    rows = [[Paragraph(text(words), style.verdict)], [Paragraph(text(detail), style.cell)]]
    review = result.review
    if review:
        rows.append(
            [
                Paragraph(
                    f"<b>Analyst's review</b> (the model's verdict above stands as it was): {text(review.sentence)}",
                    style.cell,
                )
            ]
        )
    box = Table(rows, colWidths=[PAGE_WIDTH])
    box.setStyle(
        TableStyle([
            ("BACKGROUND", (0, 0), (-1, -1), VERDICT_COLOURS.get(result.verdict, OK_COLOUR)),
            ("BOX", (0, 0), (-1, -1), 0.6, colors.HexColor("#888888")),
        ])
    )  # fmt: skip
    return box


def _key_frame_block(key: KeyFrame, style: Styles) -> list:
    weights = "  ".join(f"L{i + 1} {w:.2f}" for i, w in enumerate(key.level_weights))
    where = "inside the box" if key.peak_in_box else "outside the face box (not evidence of a change)"
    caption = (
        f"<b>Frame {key.frame_index}</b> at {key.timestamp_s:.2f} s, track {key.track_id}: "
        f"P(fake) <b>{key.fake_probability:.3f}</b>. Face box (x, y, w, h) "
        f"{', '.join(f'{v:.0f}' for v in key.box)}; heat-map peak at ({key.heatmap_peak[0]:.0f}, "
        f"{key.heatmap_peak[1]:.0f}), {where}. FAF level weights: {weights}. Spectrum: "
        f"{100 * key.spectrum_outside_fraction:.0f}% of rings outside the real-face band, high-frequency "
        f"excess {key.spectrum_high_excess_db:+.1f} dB."
    )
    images = key.images
    side = 3.7 * cm
    frame_width = min(KEY_FRAME_WIDTH, PAGE_WIDTH - 2 * side - 0.6 * cm)
    pictures = [
        _picture(images["frame"], frame_width),
        _picture(images["crop"], side),
        _picture(images["spectrum"], side),
    ]
    labels = [
        Paragraph("frame, face box and heat map", style.small),
        Paragraph("face and heat map", style.small),
        Paragraph("2-D log spectrum of the face (centre: low frequencies)", style.small),
    ]
    row = Table([pictures, labels], colWidths=[frame_width + 0.3 * cm, side + 0.3 * cm, side])
    row.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    )  # fmt: skip
    return [row, Paragraph(caption, style.small), Spacer(1, 8)]


def _result_section(number: str, result: AnalysisResult, rule: str, style: Styles) -> list:
    flow = [Paragraph(f"{number} {text(result.evidence.name)}", style.h2), _verdict_box(result, style)]
    flow.append(Spacer(1, 4))
    if result.verdict == NOT_APPLICABLE and not result.frames_read:
        return flow
    if result.aggregation != rule:
        flow.append(Paragraph(text(result.aggregation), style.small))
    counts = (
        f"Frames read: {result.frames_read}; with a face: {result.frames_with_faces}; faces judged: "
        f"{result.faces_scored}; faces too small: {result.faces_too_small}; detector: {result.detector or '-'}"
        f"; decoding: {(result.decode or {}).get('problem') or 'complete'}."
    )
    flow.append(Paragraph(text(counts), style.small))
    for warning in result.warnings:
        flow.append(Paragraph(f"<b>Note:</b> {text(warning)}", style.small))
    if not result.tracks:
        return flow
    widths = [1.2, 1.1, 2.1, 1.3, 2.3, 1.3, 1.3, 1.4, 3.0, 1.6]
    tracks = _table(
        track_rows(result), [w * cm for w in widths][:-1] + [PAGE_WIDTH - sum(widths[:-1]) * cm], header=True
    )
    flow += _heading_over_table(Paragraph("Face tracks", style.h3), tracks)
    flow.append(Paragraph("Fake probability of every judged face over time", style.h3))
    flow.append(charts.timeline(result, width=PAGE_WIDTH))
    reference = result.spectrum_reference
    for index, track in enumerate(result.tracks):
        if not track.key_frames:
            continue
        lead = [Paragraph(f"Key frames of track {track.track_id}", style.h3)]
        if index == 0 and result.cam_layer:
            lead.append(
                Paragraph(text(f"Grad-CAM taken at {result.cam_layer} for the 'fake' class."), style.small)
            )
        blocks = [_key_frame_block(key, style) for key in track.key_frames if key.images]
        curves = [
            (f"frame {k.frame_index} (P {k.fake_probability:.2f})", k.spectrum) for k in track.key_frames
        ]
        blocks.append(
            [
                Paragraph(f"Radial power spectrum of the key-frame faces of track {track.track_id}", style.h3),
                charts.spectrum_chart(reference, curves, width=PAGE_WIDTH),
                Paragraph(
                    text(
                        "Each curve is the face's azimuthally averaged power at each spatial frequency, minus the "
                        "median of real faces; the band holds 90% of real faces (5th to 95th percentile). "
                        f"Band: {reference.describe()}."
                    ),
                    style.small,
                ),
                Paragraph(
                    "How much each feature level weighed in the fused decision (FAF weights, mean over the track; "
                    "L1 fine detail at stride 4 to L4 coarse structure at stride 32): "
                    + "  ".join(f"L{i + 1} {w:.2f}" for i, w in enumerate(track.mean_level_weights)),
                    style.small,
                ),
                charts.level_weights(track.mean_level_weights),
            ]
        )  # fmt: skip
        # The heading (and its note) on the page of the first picture: a KeepTogether after a heading
        # is not kept with it by the heading's keepWithNext.
        flow += [KeepTogether(lead + blocks[0])] + [KeepTogether(block) for block in blocks[1:]]
    return flow


def _heading_over_table(heading: Paragraph, table: Table) -> list:
    """A heading over a table that may run over pages (its header row repeated on each): both start here
    when the heading, the header and the first rows fit, else on the next page. The heading's keepWithNext
    is off: it would carry a table longer than the space left whole to the next page, leaving a gap."""
    heading.keepWithNext = 0
    return [CondPageBreak(TABLE_START), heading, table]


# Pictures as binary streams: reportlab's ASCII85 text encoding runs in pure Python without its
# optional C accelerator (2.6 s of a 3 s report with nine pictures) and makes the file a quarter larger.
rl_config.useA85 = 0


def render_pdf(report: Report, json_name: str, json_sha256: str) -> bytes:
    """The report as PDF bytes; its pictures are those its results' key frames carry."""
    style = Styles()
    case = report.case
    buffer = io.BytesIO()
    # The case last: a long case name is cut short here (section 1 prints it whole), never the hash.
    footer = clipped(
        plain(f"CFFD Studio report; JSON twin SHA-256 {json_sha256[:16]}...; case {case.case_id or '-'}"),
        PAGE_WIDTH - 2.5 * cm,  # the page number on the right
    )
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=SIDE_MARGIN, rightMargin=SIDE_MARGIN, topMargin=TOP_MARGIN, bottomMargin=BOTTOM_MARGIN,
        title=report.title, author=case.examiner or "CFFD Studio", subject=f"case {case.case_id}",
    )  # fmt: skip
    flow: list = [Paragraph(text(report.title), style.title)]
    flow.append(
        Paragraph(
            text(f"Report made {report.created_utc} (UTC). Machine-readable twin: {json_name}, SHA-256:"),
            style.small,
        )
    )
    flow.append(Paragraph(json_sha256, style.mono))
    flow.append(Spacer(1, 6))
    summary_rows = [["Evidence", "Verdict", "Score", "Deciding track", "Analyst's review"]]
    for entry in report.entries:
        result = entry.result
        probability = "-" if result.video_probability is None else f"{result.video_probability:.3f}"
        track = "-" if result.deciding_track is None else str(result.deciding_track)
        review = result.review
        reviewed = f"{review.words} ({review.reviewer})" if review else "not reviewed"
        summary_rows.append([entry.name, result.verdict_words, probability, track, reviewed])
    widths = [5.0 * cm, 4.0 * cm, 1.6 * cm, 2.0 * cm]
    flow.append(_table(summary_rows, [*widths, PAGE_WIDTH - sum(widths)], header=True))
    for entry in report.entries:
        if entry.check.alarming:
            alarm = f"Warning: {entry.check.name}: {entry.check.problem}."
            flow.append(Paragraph(f'<font color="#a00000"><b>{text(alarm)}</b></font>', style.body))
    for model in report.models:
        flow.append(
            Paragraph(
                text(
                    f"Judged by model {model.version or model.source} (preset {model.preset}, threshold "
                    f"{model.threshold:.2f}), weights SHA-256 {model.weights_sha256}."
                ),
                style.small,
            )
        )

    flow.append(Paragraph("1 Case", style.h1))
    flow.append(_pairs([
        ("Case", case.case_id or "-"), ("Examiner", case.examiner or "-"),
        ("Organisation", case.organisation or "-"), ("Notes", case.notes or "-"),
        ("Analysis started (UTC)", report.analysis_started_utc or "-"),
        ("Analysis finished (UTC)", report.analysis_finished_utc or "-"),
        ("Report made (UTC)", report.created_utc),
    ]))  # fmt: skip
    flow.append(Paragraph("2 Evidence", style.h1))
    for entry in report.entries:
        check = entry.check
        flow.append(Paragraph(text(check.name), style.h3))
        rows = evidence_rows(check, entry.result)
        table = _pairs(rows, mono_keys=("SHA-256 at intake", "SHA-256 now", "MD5 at intake", "MD5 now"))
        if check.alarming:
            table.setStyle(
                TableStyle([("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), ALARM_COLOUR)])
            )
        flow.append(table)
    flow.append(Paragraph("3 Software and device", style.h1))
    flow.append(_pairs(software_rows(report.software)))
    flow.append(Paragraph("4 Model", style.h1))
    for model in report.models:
        flow.append(_pairs(model_rows(model), mono_keys=("Weights SHA-256",)))
        flow.append(Paragraph("Model card", style.h3))
        flow += _markdown(model.card, style)
    settings_heading = Paragraph("5 Settings", style.h1)
    results = report.results
    if not results:
        flow.append(settings_heading)
    else:
        rows = settings_rows(results[0].settings)
        table = _table(rows, [7.5 * cm, 5.5 * cm, PAGE_WIDTH - 13 * cm], header=True, mono_cols=(1,))
        flow += _heading_over_table(settings_heading, table)
        if any(r.settings != results[0].settings for r in results):
            flow.append(
                Paragraph("Files were analysed with different settings: see the JSON twin.", style.small)
            )
    flow.append(CondPageBreak(10 * cm))
    flow.append(Paragraph("6 Results", style.h1))
    rule = results[0].aggregation if results else ""
    flow.append(Paragraph(text(rule), style.body))
    for index, result in enumerate(results):
        flow += _result_section(f"6.{index + 1}", result, rule, style)
    flow.append(Paragraph("7 Interpretation", style.h1))
    flow += [Paragraph(text(p), style.body) for p in report.general_interpretation]
    for entry in report.entries:
        flow.append(Paragraph(text(entry.name), style.h3))
        flow += [Paragraph(text(p), style.body) for p in entry.interpretation]
    flow.append(Paragraph("8 Limitations", style.h1))
    flow += [Paragraph(f"- {text(item)}", style.body) for item in report.limitations]
    flow.append(Paragraph("9 Reproduction", style.h1))
    flow.append(Paragraph(
        "Each command below, run with the same model version (check its weights SHA-256 in section 4) on the "
        "file with the SHA-256 in section 2, produces the same result.", style.body))  # fmt: skip
    for entry in report.entries:
        flow.append(Paragraph(text(entry.name), style.h3))
        flow.append(Paragraph(text(entry.result.command), style.mono))
        for gap in entry.not_expressible:
            flow.append(Paragraph(text(f"Also set (no command option): {gap}"), style.small))
    doc.build(flow, canvasmaker=_numbered_canvas(footer))
    return buffer.getvalue()


def _markdown(card: str, style: Styles) -> list:
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
