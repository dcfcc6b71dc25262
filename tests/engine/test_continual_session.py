"""learn_task / train_first_task end to end: staged bundles that verify, commit, and never touch the active version."""

from __future__ import annotations

import json

import pytest
import torch

from cffd_engine.calibration import raw_threshold
from cffd_engine.continual import (
    BaseModel,
    ContinualSettings,
    ReplayBuffer,
    StrategyConfig,
    TaskData,
    TrainSettings,
    UpdateReport,
    ValidationSets,
    learn_task,
    train_first_task,
)
from cffd_engine.continual.evaluate import predict
from cffd_engine.continual.samples import SampleSet
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import Cancelled, JobControl
from cffd_engine.model.device import cpu_threads
from cffd_engine.store import BundleError, ModelStore, verify_bundle
from tests.engine.continual_fixtures import make_task, tiny_config, update_report


def settings(name: str = "cffd", epochs: int = 1) -> ContinualSettings:
    return ContinualSettings(
        StrategyConfig(name=name, hscl_projection_dim=8, fisher_samples=4),
        TrainSettings(device="cpu", epochs=epochs, batch_size=16),
        replay_budget=24,
        validation_size=12,
    )


@pytest.fixture(scope="module")
def store_with_v1(tmp_path_factory):
    """A store whose active v1 learned 'checker' (a first task through train_first_task)."""
    store = ModelStore(tmp_path_factory.mktemp("store"))
    torch.manual_seed(0)
    with cpu_threads(1):
        candidate = train_first_task(
            store,
            TaskData("checker", make_task("checker", 48), description="checker patches"),
            tiny_config(),
            settings(),
        )
    assert candidate.manifest.parent_version is None
    assert candidate.report.accuracy_before == [None]
    candidate.accept()
    return store


def test_first_task_bundle_is_complete_and_learnable(store_with_v1):
    store = store_with_v1
    assert store.active_version() == "v1"
    manifest = store.verify("v1")
    assert manifest.learnable and manifest.contents["validation_sets"]
    assert [t["name"] for t in manifest.tasks] == ["checker"]
    assert (
        manifest.tasks[0]["num_samples"] == 48 and manifest.tasks[0]["data_description"] == "checker patches"
    )
    assert manifest.metrics["task_names"] == ["checker"] and len(manifest.metrics["accuracy"]) == 1
    base = BaseModel.from_store(store)
    assert base.buffer.counts() == {"checker": {"real": 12, "fake": 12}}
    assert base.validation.tasks == ["checker"] and base.validation.get("checker").counts() == {
        "real": 6,
        "fake": 6,
    }
    assert not set(base.validation.get("checker").ids) & set(base.buffer.samples.ids)  # never trained on
    # Calibrated on those validation faces: the recorded accuracy is at the fitted threshold.
    calibration = manifest.decision["calibration"]
    assert calibration["method"] == "temperature" and calibration["fitted"]["genuine"] == 6
    scores = predict(base.model, base.validation.get("checker")).fake_probability.numpy()
    labels = base.validation.get("checker").labels.numpy()
    expected = ((scores >= raw_threshold(manifest.decision)) == labels).mean()
    assert manifest.metrics["accuracy"][0] == [pytest.approx(expected)]


def test_learn_task_stages_a_verified_candidate_that_commits(store_with_v1, tmp_path):
    store = store_with_v1
    progress: list[float] = []
    with cpu_threads(1):
        candidate = learn_task(
            store,
            TaskData("stripes", make_task("stripes", 40, "stripes")),
            settings(),
            job=JobControl(lambda f, m: progress.append(f)),
        )
    assert candidate.staged.parent == store.staging_dir
    assert store.versions() == ["v1"] and store.active_version() == "v1"  # nothing changed yet
    manifest = verify_bundle(candidate.staged)
    assert manifest.parent_version == "v1"
    assert [t["name"] for t in manifest.tasks] == ["checker", "stripes"]
    # The card's opening words are the parent's, which speak of its own tasks: the update says what it added.
    parent = store.manifest("v1").description
    added = f"Then taught 'stripes' ({manifest.tasks[1]['date']}) as an update of v1."
    assert manifest.description == (f"{parent} {added}" if parent else added)
    metrics = manifest.metrics
    assert metrics["task_names"] == ["checker", "stripes"]
    assert [len(row) for row in metrics["accuracy"]] == [1, 2]
    assert metrics["accuracy"][-1] == candidate.report.accuracy_after
    # Refitted after the update, on the validation faces of both tasks.
    assert manifest.decision["calibration"]["fitted"]["genuine"] == 12
    assert "checker, stripes" in manifest.decision["calibration"]["fitted_on"]
    files = set(manifest.files)
    assert {"replay/index.json", "replay/samples.safetensors", "validation/index.json"} <= files
    assert all(name.endswith((".json", ".safetensors")) for name in files)

    report = candidate.report
    assert report.task_names == ["checker", "stripes"] and report.parent_version == "v1"
    assert all(v is not None for v in report.accuracy_before + report.accuracy_after)
    assert report.validation_counts == [12, 12] and report.train_samples == 28
    assert report.replay_samples == 24 and report.strategy == "cffd"
    assert UpdateReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report
    assert "'stripes'" in report.summary_text()
    assert progress[-1] == 1.0 and progress == sorted(progress)

    buffer = ReplayBuffer.load(candidate.staged / "replay")
    assert buffer.counts() == {"checker": {"real": 6, "fake": 6}, "stripes": {"real": 6, "fake": 6}}
    assert ValidationSets.load(candidate.staged / "validation").tasks == ["checker", "stripes"]

    version = candidate.accept()
    assert version == "v2" and store.active_version() == "v2"
    assert store.manifest("v2").parent_version == "v1"
    store.activate("v1")  # leave the module's store as the other tests expect it


def test_an_update_also_measures_the_candidate_at_the_threshold_it_started_from(store_with_v1):
    """The refitted threshold can cost earlier tasks accuracy that their ranking kept; the report keeps the
    candidate's accuracy at the earlier threshold too. Here the earlier one calls every face manipulated,
    and the new task is measured on 9 forgeries and 3 genuine faces, so the two thresholds' figures differ
    however well the candidate ranks them."""
    base = BaseModel.from_store(store_with_v1)
    base.manifest.decision = {"threshold": 0.0, "calibration": {"method": "none"}}
    faces = make_task("stripes", 52, "stripes")
    fakes, reals = [i for i in range(40, 52) if i % 2][:6], [i for i in range(40, 52) if not i % 2][:3]
    extra = make_task("stripes", 8, "stripes", seed=1)
    held_out = SampleSet.concat([faces.subset(fakes + reals), extra.of_label(1).subset([0, 1, 2])])
    task = TaskData("stripes", faces.subset(range(40)), validation=held_out)
    with cpu_threads(1):
        candidate = learn_task(store_with_v1, task, settings(), base)
    candidate.discard()
    report = candidate.report
    assert (report.threshold_before, report.threshold_after) == (
        0.0,
        candidate.manifest.decision["threshold"],
    )
    assert report.accuracy_at_earlier_threshold[-1] == pytest.approx(9 / 12)  # every face called manipulated
    for task_name, recorded in zip(report.task_names, report.accuracy_at_earlier_threshold, strict=True):
        measured = candidate.trained.validation.get(task_name)
        scores = predict(candidate.trained.model, measured).fake_probability.numpy()
        assert recorded == pytest.approx(((scores >= 0.0) == measured.labels.numpy()).mean())
    assert report.accuracy_at_earlier_threshold != report.accuracy_after


def test_discard_and_failures_leave_the_store_untouched(store_with_v1):
    store = store_with_v1
    versions, active = store.versions(), store.active_version()
    with cpu_threads(1):
        candidate = learn_task(store, TaskData("dark", make_task("dark", 24, "dark")), settings("er"))
    candidate.discard()
    assert not candidate.staged.exists()

    job = JobControl()

    class CancelOnFirstStep:
        def on_step(self, progress):
            job.cancel()

        def on_epoch_end(self, progress): ...

        def on_checkpoint(self, path, epoch): ...

    with cpu_threads(1), pytest.raises(Cancelled):
        learn_task(
            store,
            TaskData("dark", make_task("dark", 24, "dark")),
            settings("lwf"),
            job=job,
            callbacks=[CancelOnFirstStep()],
        )
    with pytest.raises(CFFDError, match="already knows a task named 'checker'"):
        learn_task(store, TaskData("checker", make_task("checker", 24)), settings())
    with pytest.raises(CFFDError, match="at least"):
        learn_task(store, TaskData("few", make_task("few", 4)), settings())
    assert store.versions() == versions and store.active_version() == active
    assert list(store.staging_dir.iterdir()) == []


def test_only_fakes_borrow_genuine_faces_and_a_bundle_without_buffer_is_refused(store_with_v1, tmp_path):
    store = store_with_v1
    fakes = make_task("bright", 32, "bright").of_label(1)
    with cpu_threads(1):
        candidate = learn_task(store, TaskData("bright", fakes), settings("ft"))
    assert candidate.report.train_samples == (16 - 6) + 12  # the fakes not held out, plus the buffer's reals
    assert any("genuine faces came from the replay buffer" in w for w in candidate.report.warnings)
    candidate.discard()

    bare = ModelStore(tmp_path / "bare")
    exported = store.export("v1", tmp_path / "v1.cffd", include_private_data=False)
    bare.activate(bare.import_bundle(exported).version)
    with pytest.raises(BundleError, match="no replay buffer"):
        learn_task(bare, TaskData("stripes", make_task("stripes", 24)), settings())


def test_learn_task_resumes_from_its_work_folder(store_with_v1, tmp_path):
    store = store_with_v1
    task = TaskData("stripes", make_task("stripes", 32, "stripes"), date="2024-01-01")
    job = JobControl()

    class CancelInSecondEpoch:
        def on_step(self, progress):
            if progress.epoch == 2:
                job.cancel()

        def on_epoch_end(self, progress): ...

        def on_checkpoint(self, path, epoch): ...

    with cpu_threads(1):
        with pytest.raises(Cancelled):
            learn_task(
                store, task, settings(epochs=2), job=job, work_dir=tmp_path, callbacks=[CancelInSecondEpoch()]
            )
        resumed = learn_task(store, task, settings(epochs=2), work_dir=tmp_path)
        fresh = learn_task(store, task, settings(epochs=2))
    assert resumed.report.resumed_from_epoch == 1
    assert resumed.report.accuracy_after == fresh.report.accuracy_after
    assert (resumed.staged / "weights.safetensors").read_bytes() == (
        fresh.staged / "weights.safetensors"
    ).read_bytes()
    assert not (tmp_path / "checkpoint").exists()
    resumed.discard()
    fresh.discard()


def test_a_read_only_store_is_refused_before_any_training(store_with_v1):
    class Steps:
        count = 0

        def on_step(self, progress):
            Steps.count += 1

        def on_epoch_end(self, progress): ...

        def on_checkpoint(self, path, epoch): ...

    store = ModelStore(store_with_v1.root)
    store.read_only = True
    for attempt in (
        lambda: learn_task(
            store, TaskData("stripes", make_task("stripes", 24)), settings(), callbacks=[Steps()]
        ),
        lambda: train_first_task(
            store,
            TaskData("checker", make_task("checker", 24)),
            tiny_config(),
            settings(),
            callbacks=[Steps()],
        ),
    ):
        with pytest.raises(BundleError, match="read-only"):
            attempt()
    assert Steps.count == 0 and store.versions() == store_with_v1.versions()


def test_the_summary_says_when_a_fall_comes_from_the_threshold_and_not_the_ranking():

    def report(auc_after_swap: float):
        return update_report(
            ["blend", "swap", "morph"], [0.72, 0.72, 0.55], [0.61, 0.50, 0.48], [0.90, 0.83, 0.57],
            [0.83, auc_after_swap, 0.35], [18, 18, 64],
        )  # fmt: skip

    assert [report(0.82).ranking_kept(row) for row in range(3)] == [False, True, False]
    kept = report(0.82).summary_text()
    assert "Its accuracy fell most on 'swap': 22 points lower than before." in kept
    assert "It forgot most on 'swap': 22 points lower than before." in report(0.70).summary_text()
    assert (
        "ranking of 'swap' faces barely changed (AUC 0.83 -> 0.82): the fall comes from the threshold" in kept
    )
    assert "at most 5% of the genuine faces kept aside" in kept
    assert "ranking" not in report(0.70).summary_text()  # the ranking fell too: forgotten, nothing to add
    assert "earlier threshold" not in kept  # a report from before the figure was recorded

    measured = report(0.82)
    measured.accuracy_at_earlier_threshold = [0.66, 0.69, 0.60]
    measured.threshold_before, measured.threshold_after = 0.7214, 0.8169
    assert (
        "At the earlier threshold (0.72; now 0.82) the updated model is right on 69% of 'swap' faces "
        "(before the update: 72%)." in measured.summary_text()
    )
    assert "the fall comes from the threshold" in measured.summary_text()  # 3 points at the earlier one

    # At the threshold it started from the candidate is 12 points lower: the scores moved, not only the threshold.
    measured.accuracy_at_earlier_threshold = [0.66, 0.60, 0.60]
    moved = measured.summary_text()
    assert "the fall comes from the threshold" not in moved
    assert (
        "Its ranking of 'swap' faces barely changed (AUC 0.83 -> 0.82), but its scores moved: at the earlier "
        "threshold (0.72; now 0.82) the updated model is right on 60% of 'swap' faces (before the update: 72%), "
        "so the fall is not the new threshold's alone." in moved
    )


def test_the_summary_says_when_the_threshold_hides_forgetting_or_makes_a_rise():
    """The wizard's measured update on a fresh store (docs/continual-2026-12-04.md): accuracy rose on every
    earlier family, but on 'swap' the ranking fell and on 'blend' it did not move."""

    report = update_report(
        ["blend", "swap", "reenact", "texture", "morph"],
        [0.64, 0.66, 0.82, 0.66, 0.54],
        [0.74, 0.78, 0.90, 0.74, 0.72],
        [0.856, 0.922, 0.936, 0.816, 0.633],
        [0.851, 0.870, 0.949, 0.867, 0.845],
    )
    assert [report.forgetting_hidden(row) for row in range(4)] == [False, True, False, False]
    assert [report.threshold_rise(row) for row in range(4)] == [True, False, True, False]
    text = report.summary_text()
    assert "No earlier forgery type lost more than 5 points of accuracy." in text
    assert "nothing noticeable was forgotten" not in text
    assert (
        "ranking of 'swap' faces fell (AUC 0.92 -> 0.87) although its accuracy did not: some of 'swap' was "
        "forgotten" in text
    )
    assert (
        "Accuracy rose on 'blend' (+10 points, AUC 0.86 -> 0.85), 'reenact' (+8 points, AUC 0.94 -> 0.95)"
        in text
    )
    assert "'texture'" not in text  # its ranking rose with its accuracy


@pytest.mark.parametrize(("sources", "warned"), [(2, True), (6, False)])
def test_an_update_says_when_its_examples_come_from_few_sources(store_with_v1, sources, warned):
    """Each source a forgery video and its genuine twin, held out together: with two, the model learns from
    one and is measured on the other, and the report says the figures rest on that."""
    task = make_task("bright", 48, "bright")
    per_source = 48 // sources
    task.groups = [
        f"/examples/clip{i // per_source}{'' if label else '_pristine'}.mp4"
        for i, label in enumerate(task.labels.tolist())
    ]
    with cpu_threads(1):
        candidate = learn_task(store_with_v1, TaskData("bright", task), settings("ft"))
    warnings = [w for w in candidate.report.warnings if "source(s)" in w]
    candidate.discard()
    if warned:
        assert warnings == [
            "The examples of 'bright' come from only 2 source(s) (a forgery and its genuine twin count as one): "
            "the model learned from 1 and was measured on 1, so the figures say little either way. "
            "Examples from ten or more videos make them worth reading."
        ]
    else:
        assert warnings == []
