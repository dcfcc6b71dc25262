"""First start: the welcome panel says what the application does and what the model knows, and runs the demo."""

from __future__ import annotations

import json
import shutil

import pytest

from cffd_engine.data.synth.demo import DEMO_VERSION


def test_the_welcome_panel_describes_the_model_and_analyses_the_demo_videos(
    qtbot, make_window, store, tmp_path, portrait_video, faceless_video
):
    # Stand-ins for the demo videos, so that this test does not spend its time making them.
    demo = tmp_path / "demo"
    demo.mkdir()
    shutil.copy(portrait_video, demo / "demo_pristine.mp4")
    shutil.copy(faceless_video, demo / "demo_manipulated.mp4")
    (demo / "demo.json").write_text(json.dumps({"version": DEMO_VERSION}))
    window = make_window(store, demo_dir=demo)
    assert window.right_stack.currentWidget() is window.welcome
    description = window.welcome.model_label.text()
    assert "v1" in description and "checker patches on textures" in description
    assert "Trained on checker patches only, never on faces." in description  # the model's stated limit
    results = []
    window.analysis_finished.connect(results.append)
    window.welcome.demo_button.click()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=90_000)
    assert [r.evidence.name for r in results] == ["demo_pristine.mp4", "demo_manipulated.mp4"]
    assert window.right_stack.currentWidget() is window.item_view


@pytest.mark.slow
def test_the_demo_videos_are_made_on_first_use_and_analysed(qtbot, make_window, store, tmp_path):
    window = make_window(store, demo_dir=tmp_path / "demo")
    results = []
    window.analysis_finished.connect(results.append)
    window.welcome.demo_button.click()
    assert window.progress.isVisible() and "demo" in window.progress.title.text()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=300_000)
    assert all(r.tracks for r in results)
    assert (tmp_path / "demo" / "demo.json").is_file()


def test_the_welcome_panel_gives_the_shipped_models_figures_as_its_card_does(tmp_path):
    """One source of words for what each task counts: the welcome panel and the model card agree,
    and their figures add up (faces = trained on + held out; manipulated + genuine = trained on)."""
    import html
    import re

    from app.welcome_panel import model_description
    from cffd_engine.store import DEFAULT_BUNDLE, ModelStore
    from cffd_engine.store.card import model_card

    store = ModelStore(tmp_path / "models")
    version = store.ensure_default(DEFAULT_BUNDLE)
    card, panel = model_card(store.manifest(version)), model_description(store)
    pattern = (
        r"\d\. (\w+) \([\d-]+\): (\d+) faces: (\d+) trained on and (\d+) held out for validation\. "
        r"Data: .*: (\d+) manipulated and (\d+) genuine\."
    )
    tasks = re.findall(pattern, card)
    assert [name for name, *_ in tasks] == ["blend", "swap", "reenact", "texture"]
    for line in re.findall(r"^\d\. (.*)$", card, re.MULTILINE)[: len(tasks)]:
        assert f"<li>{html.escape(line)}</li>" in panel
    for _, total, trained, held, manipulated, genuine in tasks:
        assert int(total) == int(trained) + int(held) and int(manipulated) + int(genuine) == int(trained)
