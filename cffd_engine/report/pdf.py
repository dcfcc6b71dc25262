"""The PDF of a report, drawn with reportlab from the typed ``Report`` whose ``to_dict`` is the JSON twin.

Every figure printed comes from that one object, so the PDF and the JSON cannot
disagree; only the pictures (PNG bytes kept on the results' key frames) are not in
the JSON, which records their SHA-256 instead.
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from cffd_engine.analysis.result import (
    LIKELY_MANIPULATED,
    NOT_APPLICABLE,
    AnalysisResult,
    KeyFrame,
    TrackResult,
)
from cffd_engine.analysis.spectrum import ReferenceSpectrum
from cffd_engine.report import charts
from cffd_engine.report.document import Report
from cffd_engine.report.layout import (
    BOTTOM_MARGIN,
    PAGE_WIDTH,
    SIDE_MARGIN,
    TOP_MARGIN,
    Styles,
    cell_table,
    clipped,
    heading_over_table,
    markdown_paragraphs,
    numbered_canvas,
    pair_table,
    plain,
    print_picture,
    text,
)
from cffd_engine.report.sections import (
    evidence_rows,
    model_rows,
    settings_rows,
    software_rows,
    track_rows,
)

KEY_FRAME_WIDTH = 9.5 * cm
VERDICT_COLOURS = {
    LIKELY_MANIPULATED: colors.HexColor("#f8d7da"),
    NOT_APPLICABLE: colors.HexColor("#e2e3e5"),
}
OK_COLOUR = colors.HexColor("#d4edda")
ALARM_COLOUR = colors.HexColor("#f5c6cb")


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
        print_picture(images["frame"], frame_width),
        print_picture(images["crop"], side),
        print_picture(images["spectrum"], side),
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
    """Section 6.n: one file's verdict, what was read, its face tracks and their key frames."""
    flow = [Paragraph(f"{number} {text(result.evidence.name)}", style.h2), _verdict_box(result, style)]
    flow.append(Spacer(1, 4))
    if result.verdict == NOT_APPLICABLE and not result.frames_read:
        return flow
    flow += _what_was_read(result, rule, style)
    if not result.tracks:
        return flow
    widths = [1.2, 1.1, 2.1, 1.3, 2.3, 1.3, 1.3, 1.4, 3.0, 1.6]
    tracks = cell_table(
        track_rows(result), [w * cm for w in widths][:-1] + [PAGE_WIDTH - sum(widths[:-1]) * cm], header=True
    )
    flow += heading_over_table(Paragraph("Face tracks", style.h3), tracks)
    flow.append(Paragraph("Fake probability of every judged face over time", style.h3))
    flow.append(charts.timeline(result, width=PAGE_WIDTH))
    for index, track in enumerate(result.tracks):
        if not track.key_frames:
            continue
        lead = [Paragraph(f"Key frames of track {track.track_id}", style.h3)]
        if index == 0 and result.cam_layer:
            lead.append(
                Paragraph(text(f"Grad-CAM taken at {result.cam_layer} for the 'fake' class."), style.small)
            )
        blocks = [_key_frame_block(key, style) for key in track.key_frames if key.images]
        blocks.append(_track_spectra(track, result.spectrum_reference, style))
        # The heading (and its note) on the page of the first picture: a KeepTogether after a heading
        # is not kept with it by the heading's keepWithNext.
        flow += [KeepTogether(lead + blocks[0])] + [KeepTogether(block) for block in blocks[1:]]
    return flow


def _what_was_read(result: AnalysisResult, rule: str, style: Styles) -> list:
    """The aggregation rule where it is not the report's, the frame and face counts, and the warnings."""
    flow = []
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
    return flow


def _track_spectra(track: TrackResult, reference: ReferenceSpectrum, style: Styles) -> list:
    """A track's key-frame spectra against the real-face band, and the weight of each feature level."""
    curves = [(f"frame {k.frame_index} (P {k.fake_probability:.2f})", k.spectrum) for k in track.key_frames]
    return [
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
    flow = _first_page(report, json_name, json_sha256, style)
    for section in (_case_section, _evidence_section, _software_and_model_sections, _settings_section):
        flow += section(report, style)
    flow.append(CondPageBreak(10 * cm))
    flow += _results_sections(report, style)
    flow += _interpretation_and_limits_sections(report, style)
    flow += _reproduction_section(report, style)
    doc.build(flow, canvasmaker=numbered_canvas(footer))
    return buffer.getvalue()


def _first_page(report: Report, json_name: str, json_sha256: str, style: Styles) -> list:
    """The title, the JSON twin's name and hash, one line per file, and any warning about the evidence."""
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
    flow.append(cell_table(summary_rows, [*widths, PAGE_WIDTH - sum(widths)], header=True))
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
    return flow


def _case_section(report: Report, style: Styles) -> list:
    case = report.case
    return [
        Paragraph("1 Case", style.h1),
        pair_table([
            ("Case", case.case_id or "-"), ("Examiner", case.examiner or "-"),
            ("Organisation", case.organisation or "-"), ("Notes", case.notes or "-"),
            ("Analysis started (UTC)", report.analysis_started_utc or "-"),
            ("Analysis finished (UTC)", report.analysis_finished_utc or "-"),
            ("Report made (UTC)", report.created_utc),
        ]),
    ]  # fmt: skip


def _evidence_section(report: Report, style: Styles) -> list:
    """Each file's identity and its hashes at intake and now; a mismatch or failure is shaded."""
    flow = [Paragraph("2 Evidence", style.h1)]
    for entry in report.entries:
        check = entry.check
        flow.append(Paragraph(text(check.name), style.h3))
        rows = evidence_rows(check, entry.result)
        table = pair_table(rows, mono_keys=("SHA-256 at intake", "SHA-256 now", "MD5 at intake", "MD5 now"))
        if check.alarming:
            table.setStyle(
                TableStyle([("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), ALARM_COLOUR)])
            )
        flow.append(table)
    return flow


def _software_and_model_sections(report: Report, style: Styles) -> list:
    flow = [Paragraph("3 Software and device", style.h1), pair_table(software_rows(report.software))]
    flow.append(Paragraph("4 Model", style.h1))
    for model in report.models:
        flow.append(pair_table(model_rows(model), mono_keys=("Weights SHA-256",)))
        flow.append(Paragraph("Model card", style.h3))
        flow += markdown_paragraphs(model.card, style)
    return flow


def _settings_section(report: Report, style: Styles) -> list:
    """The first file's settings, with a note where other files were analysed with others."""
    heading = Paragraph("5 Settings", style.h1)
    results = report.results
    if not results:
        return [heading]
    rows = settings_rows(results[0].settings)
    table = cell_table(rows, [7.5 * cm, 5.5 * cm, PAGE_WIDTH - 13 * cm], header=True, mono_cols=(1,))
    flow = heading_over_table(heading, table)
    if any(r.settings != results[0].settings for r in results):
        flow.append(Paragraph("Files were analysed with different settings: see the JSON twin.", style.small))
    return flow


def _results_sections(report: Report, style: Styles) -> list:
    results = report.results
    rule = results[0].aggregation if results else ""
    flow = [Paragraph("6 Results", style.h1), Paragraph(text(rule), style.body)]
    for index, result in enumerate(results):
        flow += _result_section(f"6.{index + 1}", result, rule, style)
    return flow


def _interpretation_and_limits_sections(report: Report, style: Styles) -> list:
    flow = [Paragraph("7 Interpretation", style.h1)]
    flow += [Paragraph(text(p), style.body) for p in report.general_interpretation]
    for entry in report.entries:
        flow.append(Paragraph(text(entry.name), style.h3))
        flow += [Paragraph(text(p), style.body) for p in entry.interpretation]
    flow.append(Paragraph("8 Limitations", style.h1))
    flow += [Paragraph(f"- {text(item)}", style.body) for item in report.limitations]
    return flow


def _reproduction_section(report: Report, style: Styles) -> list:
    flow = [Paragraph("9 Reproduction", style.h1)]
    flow.append(Paragraph(
        "Each command below, run with the same model version (check its weights SHA-256 in section 4) on the "
        "file with the SHA-256 in section 2, produces the same result.", style.body))  # fmt: skip
    for entry in report.entries:
        flow.append(Paragraph(text(entry.name), style.h3))
        flow.append(Paragraph(text(entry.result.command), style.mono))
        for gap in entry.not_expressible:
            flow.append(Paragraph(text(f"Also set (no command option): {gap}"), style.small))
    return flow
