"""The "learn new forgery" wizard end to end on a tiny task: accept, discard, cancel and close mid-update."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.workers import wait_for_all
from cffd_engine.analysis.result import DISPUTED
from cffd_engine.analysis.review_queue import MANIPULATED
from tests import synthetic_media as sm
from tests.app.conftest import give_review, tiny_settings


@pytest.fixture(scope="module")
def new_forgery(tmp_path_factory):
    """Two dozen morphs (the fifth synthetic family, which no shipped model learned) as the new forgery."""
    import cv2
    import numpy as np

    from cffd_engine.data.synth import Face, get_family
    from cffd_engine.media.faces import FaceLandmarker

    genuine = sm.write_face_folder(tmp_path_factory.mktemp("genuine") / "photos", 24)
    examples = tmp_path_factory.mktemp("new-forgery") / "examples"
    examples.mkdir(exist_ok=True)
    donor_image = sm.altered_portrait()
    morph, rng = get_family("morph"), np.random.default_rng(0)
    with FaceLandmarker(max_faces=1) as landmarker:
        donor = Face(donor_image, landmarker.landmarks(donor_image)[0], "donor")
        for path in sorted(genuine.iterdir()):
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            forged = morph(Face(image, landmarker.landmarks(image)[0], path.name), rng, donor)
            cv2.imwrite(str(examples / path.name), cv2.cvtColor(forged.image, cv2.COLOR_RGB2BGR))
    return examples


def to_faces_page(qtbot, wizard, examples, name: str = "portrait swap"):
    wizard.next()
    assert wizard.currentPage() is wizard.examples_page and not wizard.examples_page.isComplete()
    if examples is not None:
        wizard.examples_page.fake_sources.add_paths([examples])
    wizard.next()
    assert wizard.currentPage() is wizard.name_page
    wizard.name_page.name.setText(name)
    with qtbot.waitSignal(wizard.faces_ready, timeout=60_000) as ready:
        wizard.next()
    return ready.args[0]


def start_update(qtbot, wizard, finish: bool = True):
    wizard.next()
    assert wizard.currentPage() is wizard.settings_page
    if not finish:
        wizard.next()
        return None
    with qtbot.waitSignal(wizard.training_finished, timeout=120_000) as finished:
        wizard.next()
    return finished.args[0]


def test_the_change_on_each_forgery_type_is_put_in_words():
    from app.wizard.results_page import change_words
    from tests.engine.continual_fixtures import update_report

    def words(before, after, auc_before=0.80, auc_after=0.80, new_task=False):
        report = update_report(
            ["blend", "morph"],
            [before, 0.5] if not new_task else [0.7, before],
            [after, 0.6] if not new_task else [0.7, after],
            [auc_before, 0.6],
            [auc_after, 0.8],
        )
        return change_words(report, 1 if new_task else 0)

    assert words(0.38, 0.46, new_task=True) == ("+8 points learned", "#1b7f3b")
    assert words(0.67, 0.44, new_task=True) == ("23 points lower: not learned", "#b3261e")
    assert words(None, 0.5, new_task=True) == ("new", None)
    assert words(0.72, 0.50, auc_after=0.70) == ("22 points forgotten", "#b3261e")
    assert words(0.89, 0.83, auc_after=0.79) == ("6 points lower: threshold moved, ranking kept", "#8a5a00")
    assert words(0.72, 0.70) == ("2 points lower (within noise)", None)
    # the measured wizard update's swap row: accuracy up, ranking down
    assert words(0.66, 0.78, auc_before=0.922, auc_after=0.870) == (
        "+12 points, but ranking fell (AUC 0.92 -> 0.87)",
        "#8a5a00",
    )
    assert words(0.64, 0.74, auc_before=0.856, auc_after=0.851) == (
        "+10 points: threshold moved, ranking kept",
        None,
    )
    assert words(0.66, 0.74, auc_before=0.816, auc_after=0.867) == ("+8 points", None)  # ranking rose too
    assert words(0.70, 0.72, auc_after=0.85) == ("+2 points", None)


@pytest.mark.parametrize(
    ("fake_files", "real_files", "expected"),
    [
        (["/f/a.mp4"], ["/g/a_pristine.mp4"], "all come from one file"),
        (["/f/a.mp4", "/f/b.mp4"], ["/g/a_pristine.mp4", "/g/b_pristine.mp4"], "only 2 sources"),
        (["/f/a.mp4", "/f/b.mp4", "/f/c.mp4"], ["/g/d.mp4", "/g/e.mp4"], None),
    ],
)
def test_the_faces_page_says_when_the_examples_come_from_few_videos(fake_files, real_files, expected):
    """A forgery and its genuine twin are one source; with few sources the held-out figures say little."""
    import numpy as np

    from app.theme import INFO_STYLE, WARNING_STYLE
    from app.wizard.faces_page import faces_summary
    from cffd_engine.continual.examples import GatheredFaces, SourceFaces
    from cffd_engine.continual.samples import FAKE, REAL

    face = np.zeros((8, 8, 3), np.uint8)
    per_file = 60
    gathered = GatheredFaces(
        fake=[face] * per_file * len(fake_files), real=[face] * per_file * len(real_files)
    )
    gathered.sources = [SourceFaces(Path(p), FAKE, per_file) for p in fake_files]
    gathered.sources += [SourceFaces(Path(p), REAL, per_file) for p in real_files]
    style, words = faces_summary(gathered, replay_genuine=0)
    assert words.startswith(
        f"{per_file * len(fake_files)} faces of the new forgery (from {len(fake_files)} file(s))"
    )
    if expected is None:
        assert style == INFO_STYLE and "source" not in words
    else:
        assert style == WARNING_STYLE and expected in words


def staging_is_empty(store) -> bool:
    return list(store.staging_dir.iterdir()) == []


def test_accept_makes_the_new_model_the_active_version(qtbot, window, store, new_forgery):
    wizard = window.open_learn_wizard()
    assert "knows: checker" in wizard.intro_page.model_label.text()
    gathered = to_faces_page(qtbot, wizard, new_forgery)
    faces = wizard.faces_page
    assert len(gathered.fake) >= 24 and not gathered.real
    assert faces.isComplete() and faces.sources.rowCount() == 24
    assert faces.thumbnails.count() == len(gathered.fake)
    # A face the analyst did not mean (a false detection, a bystander) can be left out.
    found = len(gathered.fake)
    faces.thumbnails.item(0).setSelected(True)
    faces.thumbnails.item(3).setSelected(True)
    faces.leave_out_button.click()
    assert len(gathered.fake) == found - 2 == faces.thumbnails.count()
    assert str(found - 2) in faces.summary.text()
    assert (
        "That is few" in faces.summary.text()
        and "genuine faces the model keeps in memory" in faces.summary.text()
    )

    candidate = start_update(qtbot, wizard)
    assert wizard.currentPage() is wizard.results_page
    results = wizard.results_page
    assert [results.table.item(row, 0).text() for row in range(results.table.rowCount())] == [
        "checker",
        "portrait swap (new)",
    ]
    assert "'portrait swap'" in results.summary.text()
    assert store.versions() == ["v1"] and store.active_version() == "v1"  # nothing before the choice

    with qtbot.waitSignal(window.active_model_changed, timeout=30_000) as changed:
        results.accept_button.click()
    assert changed.args[0] == "v2" == store.active_version()
    manifest = store.manifest("v2")
    assert manifest.parent_version == "v1" and [t["name"] for t in manifest.tasks] == [
        "checker",
        "portrait swap",
    ]
    assert candidate.report.task_names == ["checker", "portrait swap"]
    assert window.model_label.text() == "Active model: v2, knows: checker, portrait swap"
    assert staging_is_empty(store) and not wizard.isVisible()


def test_discard_creates_no_version(qtbot, window, store, new_forgery):
    wizard = window.open_learn_wizard()
    to_faces_page(qtbot, wizard, new_forgery)
    start_update(qtbot, wizard)
    with qtbot.waitSignal(wizard.update_discarded, timeout=30_000):
        wizard.results_page.discard_button.click()
    assert store.versions() == ["v1"] and store.active_version() == "v1"
    assert staging_is_empty(store) and not wizard.isVisible()


def test_the_wizard_offers_the_update_preset_and_keeps_what_the_page_does_not_show(make_window, store):
    from cffd_engine.continual import update_settings

    window = make_window(store, continual_settings=None)
    page = window.open_learn_wizard().settings_page
    preset = update_settings()
    assert page.lambda_slkd.value() == preset.strategy.lambda_slkd == 0.6
    assert page.epochs.value() == preset.train.epochs
    page.lambda_slkd.setValue(0.9)
    chosen = page.settings()
    # SLKD on the new faces has no box of its own; the analyst's weight applies to it.
    assert chosen.strategy.lambda_slkd == 0.9 and chosen.strategy.slkd_on_new is True
    page.epochs.setValue(1)
    assert "faces once, keeping" in page.plain.text()
    page.epochs.setValue(3)
    assert "faces 3 times over, keeping" in page.plain.text()


def test_cancelling_mid_training_leaves_the_active_model_unchanged(qtbot, make_window, store, new_forgery):
    window = make_window(store, continual_settings=tiny_settings(epochs=200))
    wizard = window.open_learn_wizard()
    to_faces_page(qtbot, wizard, new_forgery)
    start_update(qtbot, wizard, finish=False)
    training = wizard.training_page
    assert wizard.currentPage() is training and training.running
    assert not training.plot.isVisibleTo(wizard)  # no empty axes before the first step
    qtbot.waitUntil(lambda: training.stage.text().startswith("Pass 1 of 200"), timeout=60_000)
    assert training.plot.isVisibleTo(wizard)
    with qtbot.waitSignal(wizard.training_cancelled, timeout=60_000):
        training.progress.cancel_button.click()
    assert "Nothing was changed: the model in use is still v1" in training.message.text()
    assert training.again_button.isVisible() and not training.isComplete()
    assert store.versions() == ["v1"] and store.active_version() == "v1" and staging_is_empty(store)


def test_closing_the_window_mid_training_leaves_the_store_as_it_was(qtbot, make_window, store, new_forgery):
    window = make_window(store, continual_settings=tiny_settings(epochs=200))
    wizard = window.open_learn_wizard()
    to_faces_page(qtbot, wizard, new_forgery)
    start_update(qtbot, wizard, finish=False)
    qtbot.waitUntil(lambda: wizard.training_page.stage.text().startswith("Pass"), timeout=60_000)
    window.close()  # closes the wizard too, which cancels the update
    assert not wizard.isVisible() and not wizard.training_page.running
    assert wait_for_all(60_000)
    assert store.versions() == ["v1"] and store.active_version() == "v1" and staging_is_empty(store)


def test_a_known_name_is_refused_and_reviewed_faces_serve_as_examples(qtbot, window, store, portrait_video):
    with qtbot.waitSignal(window.analysis_finished, timeout=90_000):
        window.open_paths([portrait_video])
    with qtbot.waitSignal(window.feedback_kept, timeout=30_000):
        give_review(window, DISPUTED, MANIPULATED)
    wizard = window.open_learn_wizard()
    wizard.next()
    examples = wizard.examples_page
    assert examples.use_review.isEnabled() and "20 found manipulated" in examples.use_review.text()
    examples.use_review.setChecked(True)
    assert examples.isComplete()
    wizard.next()
    wizard.name_page.name.setText("checker")
    wizard.next()
    assert wizard.currentPage() is wizard.name_page and "already knows" in wizard.name_page.problem.text()
    wizard.name_page.name.setText("reviewed swaps")
    with qtbot.waitSignal(wizard.faces_ready, timeout=60_000) as ready:
        wizard.next()
    gathered = ready.args[0]
    assert gathered.reviewed[MANIPULATED] == 20 and len(gathered.fake) == 20
    assert wizard.faces_page.isComplete()


def test_without_a_learnable_model_the_wizard_says_why_and_goes_no_further(qtbot, make_window, empty_store):
    wizard = make_window(empty_store).open_learn_wizard()
    assert "No model is installed" in wizard.intro_page.model_label.text()
    assert not wizard.intro_page.isComplete()


def test_the_shipped_default_model_points_to_restoring_its_training_faces(qtbot, make_window, empty_store):
    from cffd_engine.store import DEFAULT_BUNDLE

    empty_store.activate(empty_store.import_bundle(DEFAULT_BUNDLE).version)
    wizard = make_window(empty_store).open_learn_wizard()
    text = wizard.intro_page.model_label.text()
    assert (
        "shared without the faces it keeps in memory" in text
        and "Restore training faces" in text
        and "150 faces or more" in text
    )
    assert not wizard.intro_page.isComplete()


def test_on_a_fresh_install_the_wizard_rebuilds_the_models_memory_from_the_analysts_own_faces(
    qtbot, make_window, empty_store, tmp_path
):
    from cffd_engine.store import DEFAULT_BUNDLE

    empty_store.activate(empty_store.import_bundle(DEFAULT_BUNDLE).version)
    wizard = make_window(empty_store).open_learn_wizard()
    page = wizard.intro_page
    assert page.rebuild_button.isVisibleTo(wizard) and not page.isComplete()

    page.rebuild_from(sm.write_face_folder(tmp_path / "few", 4))
    qtbot.waitUntil(lambda: "add 146 more" in page.progress_label.text(), timeout=30_000)
    assert not page.isComplete() and empty_store.versions() == ["v1"]

    with qtbot.waitSignal(page.completeChanged, timeout=300_000):
        page.rebuild_from(sm.write_face_folder(tmp_path / "mine", 160))
    assert wizard.base_version == "v2" == empty_store.active_version() and page.isComplete()
    assert "Rebuilt as v2" in page.progress_label.text() and not page.rebuild_button.isVisibleTo(wizard)
    assert empty_store.verify("v2").learnable


def test_the_rebuild_shows_a_bar_and_the_time_left_and_its_cancel_leaves_the_store_as_it_was(
    qtbot, make_window, empty_store, tmp_path
):
    from cffd_engine.store import DEFAULT_BUNDLE

    empty_store.activate(empty_store.import_bundle(DEFAULT_BUNDLE).version)
    wizard = make_window(empty_store).open_learn_wizard()
    page = wizard.intro_page
    assert not page.progress.isVisibleTo(wizard)

    page.rebuild_from(sm.write_face_folder(tmp_path / "mine", 160))
    assert page.progress.isVisibleTo(wizard) and page.progress.cancel_button.isEnabled()
    assert not page.rebuild_button.isEnabled()
    qtbot.waitUntil(lambda: page.progress.bar.value() > 0, timeout=60_000)
    qtbot.waitUntil(
        lambda: re.search(r"(a few seconds|about .+) left", page.progress.detail.text()), timeout=60_000
    )

    page.progress.cancel_button.click()
    qtbot.waitUntil(lambda: not page.rebuilding, timeout=60_000)
    assert page.progress_label.text() == "Cancelled: nothing was changed."
    assert not page.progress.isVisibleTo(wizard) and page.rebuild_button.isEnabled()
    assert empty_store.versions() == ["v1"] and not page.isComplete()
