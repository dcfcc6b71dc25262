"""Reports: the PDF opens and carries the hashes and the verdict, the JSON twin says the same, writes are atomic."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil

import numpy as np
import pytest
import torch
from pypdf import PdfReader

from cffd_engine import environment
from cffd_engine.analysis import AnalysisSettings, Analyzer, load_analysis_model
from cffd_engine.model import RSIANet, preset
from cffd_engine.report import CaseInfo, write_report
from cffd_engine.report import writer as report_writer
from cffd_engine.store import BundleManifest, write_bundle
from tests import synthetic_media as sm

CASE = CaseInfo("2026-0042", "A. Examiner", "Forensic Lab", "Seized phone, item 3 & <4>")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """An untrained lite model at 64 px: the report needs a model, not a good one."""
    torch.manual_seed(0)
    model = RSIANet(preset("lite", input_size=64))
    directory = tmp_path_factory.mktemp("bundle") / "untrained"
    manifest = BundleManifest(
        model_config=model.config.to_dict(),
        tasks=[{"name": "nothing yet", "num_samples": 0}],
        limits=["Untrained: its scores mean nothing."],
    )
    write_bundle(directory, model, manifest)
    return directory


@pytest.fixture(scope="module")
def results(bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("evidence")
    face = sm.write_video_av(folder / "interview.mp4", sm.drifting_portrait_frames(12))
    empty = sm.write_video_av(folder / "empty room.mp4", [np.full((120, 160, 3), 50, np.uint8)] * 5)
    model, info = load_analysis_model(bundle)
    settings = AnalysisSettings(explain_top_k=2, cpu_threads=1)
    with Analyzer(settings, model, info) as analyzer:
        return [analyzer.analyze(face), analyzer.analyze(empty)]


@pytest.fixture(scope="module")
def report(results, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    files = write_report(results, folder / "case 42.pdf", case=CASE)
    text = "\n".join(page.extract_text() for page in PdfReader(files.pdf).pages)
    return files, json.loads(files.json.read_text(encoding="utf-8")), text


def flat(text: str) -> str:
    """PDF text with line breaks and runs of spaces folded, for phrase searches."""
    return re.sub(r"\s+", " ", text)


def test_pdf_opens_with_evidence_hash_model_hash_and_verdict(report, results, bundle):
    files, _, text = report
    assert files.pdf.name == "case 42.pdf" and files.json.name == "case 42.json"
    face = results[0]
    assert face.evidence.sha256 in text and face.evidence.md5 in text
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["files"]["weights.safetensors"] in text
    assert face.verdict_words in text and "Not applicable" in text
    assert files.json_sha256 == hashlib.sha256(files.json.read_bytes()).hexdigest()
    assert files.json_sha256 in text
    for heading in ("1 Case", "2 Evidence", "3 Software and device", "4 Model", "5 Settings", "6 Results",
                    "7 Interpretation", "8 Limitations", "9 Reproduction"):  # fmt: skip
        assert heading in text
    assert "Seized phone, item 3 & <4>" in text
    lock = environment.installed_lock()  # the PDF names the lock the program was installed from
    assert f"Dependency lock sha256 {hashlib.sha256(lock.read_bytes()).hexdigest()}" in flat(text)


def test_json_and_pdf_agree(report):
    _, content, text = report
    text = flat(text)
    assert content["case"]["case_id"] in text and content["case"]["report_created_utc"] in text
    for summary, result, check in zip(
        content["summary"], content["results"], content["evidence"], strict=True
    ):
        assert summary["verdict_words"] in text
        assert check["sha256_now"] in text and check["match"] is True
        if result["video_probability"] is not None:
            assert f"{result['video_probability']:.3f}" in text
        for track in result["tracks"]:
            for value in (track["score"], track["mean_probability"], track["max_probability"]):
                assert f"{value:.3f}" in text
            for key in track["key_frames"]:
                assert f"Frame {key['frame_index']} at {key['timestamp_s']:.2f} s" in text
                assert f"P(fake) {key['fake_probability']:.3f}" in text
        if result["not_applicable"]:
            assert flat(result["not_applicable"]["reason"])[:60] in text
        assert flat(result["command"]) in text
    for item in content["limitations"] + content["interpretation_general"]:
        assert flat(item)[:50] in text
    assert content["models"][0]["version"] is None and "Untrained: its scores mean nothing." in text


def test_json_twin_holds_the_whole_results(report, results):
    _, content, _ = report
    assert content["format"] == "cffd-forensic-report"
    assert content["results"] == [json.loads(json.dumps(r.to_dict())) for r in results]
    keys = content["results"][0]["tracks"][0]["key_frames"]
    assert len(keys) == 2 and all(set(k["image_sha256"]) == {"frame", "crop", "spectrum"} for k in keys)
    assert content["software"]["report"]["libraries"]["reportlab"]
    assert content["software"]["report"]["dependency_lock"] == environment.lock_description()
    assert content["reproduction"][0]["command"].startswith("cffd analyze ")


def test_a_changed_evidence_file_is_reported(results, tmp_path):
    copy = tmp_path / "copy.mp4"
    shutil.copy(results[0].evidence.path, copy)
    model, info = load_analysis_model(results[0].model.bundle_path)
    result = Analyzer(AnalysisSettings(explain=False, max_frames=3), model, info).analyze(copy)
    with copy.open("ab") as handle:
        handle.write(b"tampered")
    files = write_report([result], tmp_path / "r.pdf", tmp_path / "r.json")
    check = json.loads(files.json.read_text())["evidence"][0]
    assert check["match"] is False and check["sha256_now"] != check["sha256_intake"]
    text = flat("\n".join(page.extract_text() for page in PdfReader(files.pdf).pages))
    assert "NO (the file changed since it was analysed" in text
    assert "Warning: copy.mp4: the file changed since it was analysed" in text  # on the first page too


def test_report_files_appear_whole_or_not_at_all(results, tmp_path, monkeypatch):
    pdf = tmp_path / "report.pdf"
    files = write_report(results[1:], pdf)
    before, twin = pdf.read_bytes(), files.json.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_writer, "render_pdf", broken)
    with pytest.raises(RuntimeError):
        write_report(results[1:], pdf)
    assert pdf.read_bytes() == before and files.json.read_bytes() == twin  # the old pair, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.pdf"]


def test_json_only(results, tmp_path):
    files = write_report(results[1:], json_path=tmp_path / "only.json")
    assert (
        files.pdf is None and json.loads(files.json.read_text())["summary"][0]["verdict"] == "NOT_APPLICABLE"
    )
    with pytest.raises(ValueError):
        write_report(results)


def test_the_limits_say_how_a_calibrated_threshold_was_chosen(results):
    from dataclasses import replace

    from cffd_engine.calibration import fit_decision
    from cffd_engine.report.content import limitations

    decision = fit_decision(np.linspace(-3, 3, 60), np.arange(60) >= 30, "held-out faces of a test")
    calibrated = [replace(r, model=replace(r.model, calibration=decision["calibration"])) for r in results]
    items = " ".join(limitations(calibrated))
    assert "not calibrated" not in items
    assert (
        "at most 5% of held-out genuine faces (30, held-out faces of a test) are called manipulated" in items
    )
    assert "not calibrated" in " ".join(limitations(results))  # the fixture's bundle has no calibration


def test_the_heat_map_note_says_where_peaks_lie_and_what_the_check_found(results):
    from dataclasses import replace

    from cffd_engine.model.backbones import cam_level_for
    from cffd_engine.report.content import interpretation

    result = results[0]
    keys = result.key_frames()
    assert keys, "the fixture's face video gives key frames"
    level = cam_level_for(result.model.input_size)
    check = {
        "measured_on": "a test",
        "figures": {"swap": {f"level {level}": {"faces": 10, "pointing": 0.7, "region_share": 0.2}}},
    }
    words = " ".join(interpretation(replace(result, model=replace(result.model, heatmap_check=check))))
    inside = sum(key.peak_in_box for key in keys)
    assert f"The strongest point lies inside the face box in {inside} of them" in words
    if inside < len(keys):
        assert (
            "where it lies outside (hair, neck, background), that is not evidence that the face was changed"
            in words
        )
    assert (
        f"the heat map's peak at level {level} fell inside the manipulated region 70.0% of the time (swap 70.0%); "
        "a point placed at random would fall inside 20.0% of the time." in words
    )
    # A model without the check says nothing about it.
    assert "known manipulations" not in " ".join(interpretation(result))


def test_every_analysis_setting_has_words_in_the_report():
    from cffd_engine.analysis import AnalysisSettings
    from cffd_engine.report.sections import settings_rows

    rows = settings_rows(AnalysisSettings())[1:]
    assert len(rows) > 20
    assert [name for label, name, _ in rows if label == name] == []  # a setting without words shows its name


LONG_NAME = "VID_" + "20260101_120000_seized_phone_item_3_DCIM_Camera_copy_of_copy_" * 3 + "final.mp4"


@pytest.fixture(scope="module")
def long_report(results, tmp_path_factory):
    """Three clips in one report: one with 40 face tracks (its table runs over pages), one named with
    a 200-character name without a space, and one without faces; the case number is long too."""
    from dataclasses import replace

    face, empty = results
    folder = tmp_path_factory.mktemp("long")
    copy = folder / LONG_NAME
    shutil.copy(face.evidence.path, copy)
    renamed = replace(face, evidence=replace(face.evidence, path=str(copy), name=copy.name))
    first = face.tracks[0]
    tracks = [first] + [replace(first, track_id=first.track_id + n, key_frames=[]) for n in range(1, 40)]
    crowded = replace(face, tracks=tracks)
    case = replace(CASE, case_id="2026-0042/" + "seized-phone-item-3/" * 12)
    files = write_report([crowded, renamed, empty], folder / "three clips.pdf", case=case)
    return files.pdf


def test_nothing_runs_into_the_margins_on_any_page(long_report):
    import pypdfium2

    from cffd_engine.report.layout import BOTTOM_MARGIN, FOOTER_ZONE, SIDE_MARGIN, TOP_MARGIN

    document = pypdfium2.PdfDocument(long_report)
    assert len(document) >= 4
    dpi = 72  # one pixel per point
    slack = 2  # anti-aliased edges of lines drawn on the frame's edge
    for number, page in enumerate(document, start=1):
        ink = np.asarray(page.render(scale=dpi / 72).to_pil().convert("L")) < 250
        height, width = ink.shape
        side, top, bottom = int(SIDE_MARGIN) - slack, int(TOP_MARGIN) - slack, int(BOTTOM_MARGIN) - slack
        assert not ink[:, :side].any(), f"page {number}: ink in the left margin"
        assert not ink[:, width - side :].any(), f"page {number}: ink in the right margin"
        assert not ink[:top].any(), f"page {number}: ink in the top margin"
        footer_top, footer_bottom = (height - int(edge) for edge in FOOTER_ZONE)
        below = ink[height - bottom :].copy()
        below[footer_top - (height - bottom) : footer_bottom - (height - bottom)] = False
        assert not below.any(), f"page {number}: ink in the bottom margin outside the footer line"
        assert ink[footer_top:footer_bottom].any(), f"page {number}: no footer"


def test_every_heading_has_two_lines_under_it_on_its_page(long_report):
    """No heading is left at the foot of a page with what it heads on the next (the page's last heading
    has at least two lines of text under it, above the footer)."""
    from cffd_engine.report.layout import FOOTER_ZONE, Styles

    style = Styles()
    heading_sizes = {style.h1.fontSize, style.h2.fontSize, style.h3.fontSize}
    for number, page in enumerate(PdfReader(long_report).pages, start=1):
        runs = []  # (height on the page, is a heading, text) of each piece of text above the footer

        def visit(text, cm, tm, font, size, runs=runs):
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]  # the text matrix, then the page's transform
            if text.strip() and y > FOOTER_ZONE[0]:
                bold = "Bold" in str((font or {}).get("/BaseFont", ""))
                runs.append((round(y), bold and size in heading_sizes, text.strip()))

        page.extract_text(visitor_text=visit)
        headings = [run for run in runs if run[1]]
        if not headings:
            continue
        last = min(headings)
        lines_under = {y for y, _, _ in runs if y < last[0]}
        assert len(lines_under) >= 2, f"page {number} ends with the heading {last[2]!r}"


def test_pictures_are_embedded_at_print_resolution_as_jpeg():
    from PIL import Image as PILImage
    from reportlab.lib.units import cm

    from cffd_engine.report.layout import PRINT_DPI, print_picture

    frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), np.uint8)
    png = io.BytesIO()
    PILImage.fromarray(frame).save(png, "PNG")
    image = print_picture(png.getvalue(), 8 * cm)  # 8 cm at PRINT_DPI: 787 pixels wide
    assert (image.imageWidth, image.imageHeight) == (round(8 / 2.54 * PRINT_DPI), 443)
    assert (image.drawWidth, image.drawHeight) == (8 * cm, pytest.approx(8 * cm * 443 / 787))
    small = io.BytesIO()
    PILImage.fromarray(frame[:100, :120]).save(small, "PNG")
    assert print_picture(small.getvalue(), 8 * cm).imageWidth == 120  # never enlarged


def test_every_picture_in_the_pdf_is_a_jpeg(long_report):
    names = [image.name for page in PdfReader(long_report).pages for image in page.images]
    assert len(names) >= 6 and all(name.endswith(".jpg") for name in names), names


def test_the_timeline_legend_stays_inside_its_chart_with_many_tracks(results):
    from dataclasses import replace

    from reportlab.graphics.shapes import String

    from cffd_engine.report import charts

    face = results[0]
    many = replace(face, tracks=[replace(face.tracks[0], track_id=n) for n in range(40)])
    drawing = charts.timeline(many)
    labels = [shape for shape in drawing.contents if isinstance(shape, String)]
    assert all(label.y >= 0 for label in labels)
    assert any(label.text.endswith("more tracks") for label in labels)
