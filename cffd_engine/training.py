"""``cffd train``: a model from a recipe file, reproducibly: data, training, held-out test, bundle.

A recipe (TOML, e.g. ``resources/default-model.toml``) names the real face photos,
how the synthetic task sequence is built from them (``cffd_engine.data.synth``), the
RSIA-Net preset, the continual settings and the mode:

- ``joint``: one model learns every family at once (the families' training faces
  mixed); each family keeps its own validation faces and replay share.
- ``sequence``: the families are learned one after another with the configured
  continual strategy (CFFD by default), as an analyst's updates would be.

Either way the result is a complete bundle (weights, replay buffer, per-family
validation faces) committed to a model store, with accuracy and AUC per family on
the test split, which neither training nor validation saw, in its manifest and in
``training_report.json``. Work goes under ``--out``: the built sequence is reused
and an interrupted training resumes from its last epoch.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import platformdirs

from cffd_engine.config.recipe import Recipe, recipe_from_text
from cffd_engine.errors import CFFDError
from cffd_engine.fileio import atomic_write_json
from cffd_engine.jobs import JobControl, ensure_job

REPORT_FILE = "training_report.json"
WORK_DIR = "work"  # checkpoints of a run in progress, removed when it ends


def faces_folder(recipe: Recipe) -> Path:
    """The photos to forge from; a clear error when they are not on this machine."""
    from cffd_engine.data.synth.pool import shared_faces_candidates

    candidates = [Path(recipe.faces).expanduser()] if recipe.faces else shared_faces_candidates()
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise CFFDError(
        f"the face photos for recipe '{recipe.name}' are not on this machine (looked in "
        f"{', '.join(str(c) for c in candidates)}); set CFFD_SHARED_DATA to the folder that holds "
        "faces/utkface, or set [data] faces in the recipe"
    )


def load_tasks(recipe: Recipe, faces: Path, folder: Path, size: int, job: JobControl) -> list:
    """The recipe's synthetic tasks (``TaskSplits``) at ``size`` px, built into ``folder`` unless already there."""
    from cffd_engine import distributed
    from cffd_engine.continual.protocols import load_synthetic_sequence
    from cffd_engine.data.synth import BuildSettings, build_task_sequence

    if distributed.world().is_main and not (folder / "sequence.json").is_file():
        job.report(0.0, f"making the synthetic forgeries from {faces}")
        build = {"size": size, **recipe.build}
        build_task_sequence(BuildSettings(faces=faces, out=folder, **build), job.sub(0.0, 0.9))
    distributed.barrier()  # under torchrun the others read what rank 0 built (a shared file system)
    return load_synthetic_sequence(folder, size, job=job.sub(0.9, 1.0))


@dataclass
class TrainingResult:
    """What a training run made: the committed version, its bundle and the per-family test figures."""

    version: str
    bundle: Path
    test: dict[str, dict[str, Any]]
    seconds: float
    report_path: Path


def train(
    recipe: Recipe,
    out: Path | str,
    store=None,
    activate: bool = False,
    job: JobControl | None = None,
) -> TrainingResult:
    """Build the data (or reuse it under ``out``), train, test, and commit a version to ``store``.

    ``store`` None: a store under ``out/store``. Raises ``CFFDError`` when the photos are missing.
    """
    from cffd_engine import distributed
    from cffd_engine.continual import ContinualSettings
    from cffd_engine.model import preset
    from cffd_engine.model.device import cpu_threads, select_device
    from cffd_engine.store import ModelStore

    job = ensure_job(job)
    faces = faces_folder(recipe)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    config = preset(recipe.preset, **recipe.model_overrides)
    settings = ContinualSettings.from_dict(recipe.continual)
    tasks = load_tasks(recipe, faces, out / "data", config.input_size, job.sub(0.0, 0.22))
    store = store if store is not None else ModelStore(out / "store")
    work = out / WORK_DIR
    described = _described_tasks(tasks, faces)
    candidate = _train_candidate(recipe, store, described, config, settings, job.sub(0.22, 0.95), work)
    job.report(0.95, "testing on the held-out test split")
    model = candidate.trained.model.to(select_device(settings.train.device))
    manifest = candidate.manifest
    with cpu_threads(settings.train.threads):
        test, test_decision = test_figures(model, manifest.decision, tasks)
    if distributed.world().is_main:
        _stage_tested_bundle(recipe, candidate, model, tasks, faces, test, test_decision)
    version = candidate.accept(activate=activate)
    seconds = time.monotonic() - started
    result = TrainingResult(version, store.path(version), test, seconds, out / REPORT_FILE)
    if not distributed.world().is_main:
        return result
    shutil.rmtree(work, ignore_errors=True)  # the checkpoints of a finished run
    report = _training_report(recipe, result, store, faces, settings, manifest, test_decision, tasks)
    atomic_write_json(result.report_path, report)
    job.report(1.0, f"trained {version}")
    return result


def _described_tasks(tasks: list, faces: Path) -> list:
    """The recipe's tasks as ``TaskData``, each described by where its faces come from."""
    from cffd_engine.continual import TaskData

    return [
        TaskData(
            task.name,
            task.train,
            task.val,
            description=f"synthetic '{task.name}' forgeries of face photos from {faces.name}: "
            f"{task.train.counts()['fake']} manipulated and {task.train.counts()['real']} genuine",
        )
        for task in tasks
    ]


def _train_candidate(
    recipe: Recipe, store, described: list, config, settings, training: JobControl, work: Path
):
    """The trained candidate version: every task at once (joint), or one after another (sequence)."""
    from cffd_engine.continual import learn_task, train_first_task

    if recipe.mode == "joint":
        return train_first_task(
            store,
            described,
            config,
            settings,
            training,
            work / "joint",
            (),
            recipe.description,
            recipe.limits,
        )
    share = 1.0 / len(described)
    candidate = train_first_task(
        store, described[0], config, settings, training.sub(0, share), work / "0",
        (), recipe.description, recipe.limits,
    )  # fmt: skip
    for index, task in enumerate(described[1:], start=1):
        previous = candidate
        candidate = learn_task(
            store, task, settings, previous.trained,
            training.sub(index * share, (index + 1) * share), work / str(index),
        )  # fmt: skip
        previous.discard()
    return candidate


def _stage_tested_bundle(
    recipe: Recipe, candidate, model, tasks: list, faces: Path, test, test_decision
) -> None:
    """Write the candidate's bundle with its test figures, its recipe and the genuine faces' reference spectrum."""
    from cffd_engine.analysis.spectrum import (
        compute_reference_spectrum,
        genuine_outside,
        save_reference_spectrum,
    )
    from cffd_engine.continual.samples import REAL
    from cffd_engine.store import write_bundle

    def genuine(split: str) -> list:
        return [
            image.permute(1, 2, 0).numpy()
            for task in tasks
            for image in getattr(task, split).of_label(REAL).images
        ]

    reference = compute_reference_spectrum(
        genuine("val"), f"the genuine validation faces of '{recipe.name}' ({faces.name} photos)"
    )
    reference.genuine_outside = genuine_outside(
        genuine("test"), reference, "its test split, made like its training faces, not used to draw it"
    )
    save_reference_spectrum(candidate.staged, reference)
    manifest = candidate.manifest
    manifest.metrics["test"] = test
    manifest.metrics["test_decision"] = test_decision
    manifest.contents = {**manifest.contents, "recipe": recipe.text, "training_mode": recipe.mode}
    write_bundle(candidate.staged, model, manifest)


def _training_report(
    recipe: Recipe, result: TrainingResult, store, faces: Path, settings, manifest, test_decision, tasks: list
) -> dict[str, Any]:
    """What ``training_report.json`` says of a finished run."""
    from cffd_engine import distributed

    return {
        "recipe": recipe.name,
        "mode": recipe.mode,
        "version": result.version,
        "store": str(store.root),
        "faces": str(faces),
        "seconds": round(result.seconds, 1),
        "threads": settings.train.threads,
        "processes": distributed.world().size,
        "validation": dict(
            zip(manifest.metrics["task_names"], manifest.metrics["accuracy"][-1], strict=True)
        ),
        "test": result.test,
        "decision": manifest.decision,
        "test_decision": test_decision,
        "train_samples": {task.name: len(task.train) for task in tasks},
    }


def test_figures(model, decision: dict, tasks: list) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """A trained model's figures on the test split, which neither training nor calibration saw.

    Per family: accuracy (at the decision's threshold) and AUC; and the decision's false-alarm
    rate on all the genuine test faces with its detection rate per family.
    """
    import numpy as np

    from cffd_engine.calibration import rates, raw_threshold
    from cffd_engine.continual.evaluate import evaluation_of, predict
    from cffd_engine.continual.samples import REAL
    from cffd_engine.model import inference_copy
    from cffd_engine.store.bundle import decision_threshold

    threshold = raw_threshold(decision)
    test, genuine, detection = {}, [], {}
    answering = inference_copy(model)
    for task in tasks:
        scores = predict(answering, task.test).fake_probability.numpy()
        test[task.name] = evaluation_of(scores, task.test, threshold).to_dict()
        labels = task.test.labels.numpy()
        genuine.append(scores[labels == REAL])
        detection[task.name] = rates(scores, labels, threshold)["detection_rate"]
    genuine_scores = np.concatenate(genuine)
    summary = {
        "threshold": decision_threshold(decision),
        "genuine_faces": int(genuine_scores.size),
        "false_alarm_rate": round(float((genuine_scores >= threshold).mean()), 4),
        "detection_rate": detection,
    }
    return test, summary


# Rebuilding from an analyst's own genuine faces: at least this many photos per task (each gives a
# genuine and a manipulated face), so that every task has faces to replay and to validate on.
MIN_OWN_FACES_PER_TASK = 25
# Each a genuine and a manipulated validation face: 50 faces a family measure an update's before/after
# accuracy in 2-point steps (20 faces moved it 5 points a face).
MIN_OWN_VALIDATION_PHOTOS = 25


def faces_needed(recipe: Recipe, per_task: int) -> int:
    """Face images a build of ``recipe``'s families with ``per_task`` photos each consumes (donors included)."""
    from cffd_engine.data.synth import get_family
    from cffd_engine.data.synth.builder import DONOR_POOL_FACTOR
    from cffd_engine.data.synth.families import DEFAULT_SEQUENCE

    methods = recipe.build.get("methods", DEFAULT_SEQUENCE)
    units = sum(1 + (DONOR_POOL_FACTOR if get_family(name).needs_donor else 0) for name in methods)
    return units * per_task


# Faces taken from each second of the analyst's genuine footage: more would be near-copies of each other.
OWN_FACES_PER_SECOND = 2


def own_face_images(folder: Path, job: JobControl | None = None) -> Path:
    """A folder of genuine face images made from ``folder``: its pictures as they are, and from each of its
    videos the faces of ``OWN_FACES_PER_SECOND`` frames a second, cut wide (the forgery code crops again).

    ``folder`` itself when it holds no video; else a folder in the user cache, named by the videos' and
    pictures' names and sizes, so that the same footage is read once.
    """
    import cv2

    from cffd_engine.media.crops import DEFAULT_SIZE
    from cffd_engine.media.intake import IMAGE_SUFFIXES, VIDEO_SUFFIXES, pick_files
    from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces
    from cffd_engine.media.video import probe

    job = ensure_job(job)
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "no such folder"
        raise CFFDError(
            f"{folder}: {problem}; name a folder that holds your own genuine face pictures or videos"
        )
    files = [path for path in pick_files([folder]) if path.is_file()]
    videos = [path for path in files if path.suffix.lower() in VIDEO_SUFFIXES]
    if not videos:
        return folder
    listing = "\n".join(f"{path}:{path.stat().st_size}" for path in files)
    digest = hashlib.sha256(listing.encode()).hexdigest()[:16]
    out = Path(platformdirs.user_cache_dir("cffd-studio", appauthor=False)) / "own-faces" / digest
    done = out / "complete"
    if done.is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for index, picture in enumerate(path for path in files if path.suffix.lower() in IMAGE_SUFFIXES):
        shutil.copyfile(picture, out / f"picture-{index:05d}{picture.suffix.lower()}")
    for number, video in enumerate(videos):
        sub = job.sub(number / len(videos), (number + 1) / len(videos))
        sub.report(0.0, f"faces from {video.name}")
        fps = probe(video).fps or 25.0
        settings = FaceExtractionSettings(
            stride=max(1, round(fps / OWN_FACES_PER_SECOND)), crop_size=2 * DEFAULT_SIZE, crop_scale=2.0
        )
        for crop in extract_faces(video, settings, job=sub).crops:
            name = f"video-{number:03d}-frame-{crop.frame_index:06d}-track-{crop.track_id}.png"
            cv2.imwrite(str(out / name), cv2.cvtColor(crop.image, cv2.COLOR_RGB2BGR))
    done.write_text("every face of the folder's footage is here\n", encoding="utf-8")
    return out


def own_faces_needed(manifest) -> int:
    """How many genuine face images rebuilding a shared model's training faces needs at least."""
    recipe = recipe_from_text(manifest.contents["recipe"], "the recorded recipe")
    return faces_needed(recipe, MIN_OWN_FACES_PER_TASK)


def own_faces_recipe(recipe: Recipe, folder: Path, chosen: Path | None = None) -> Recipe:
    """``recipe`` sized to the face images in ``folder`` (the analyst's own genuine faces, taken from the
    folder ``chosen``, which may hold videos); CFFDError saying how many more are needed when they are too few."""
    from cffd_engine.data.synth.pool import list_faces

    try:
        count = len(list_faces(folder))
    except FileNotFoundError as exc:
        raise CFFDError(f"{folder}: no such folder of genuine face images") from exc
    need = faces_needed(recipe, MIN_OWN_FACES_PER_TASK)
    # A few images may show no face the landmarker can fit: keep a twentieth in hand.
    per_task = int(0.95 * count) // faces_needed(recipe, 1)
    if per_task < MIN_OWN_FACES_PER_TASK:
        found = (
            f"{count} face image(s)"
            if chosen in (None, folder)
            else f"{count} face(s) in its pictures and videos"
        )
        raise CFFDError(
            f"{chosen or folder}: {found}; rebuilding the training faces needs at least {need} "
            f"({MIN_OWN_FACES_PER_TASK} per task, and donor faces for the face swap): add {max(1, need - count)} "
            "more genuine face images (one face each), or more genuine footage (two faces are taken from each "
            "second of video)"
        )
    per_task = min(per_task, int(recipe.build.get("per_task", per_task)))
    # A rebuild needs no test split (one photo, as the loader wants one); its validation faces judge
    # every later update (before and after), so each task keeps MIN_OWN_VALIDATION_PHOTOS of its photos.
    val_fraction = min(
        0.3, max(float(recipe.build.get("val_fraction", 0.1)), MIN_OWN_VALIDATION_PHOTOS / per_task)
    )
    build = {
        **recipe.build,
        "per_task": per_task,
        "val_fraction": round(val_fraction, 4),
        "test_fraction": round(1 / per_task, 4),
    }
    return replace(recipe, faces=str(folder), build=build)


def training_photos_present(manifest) -> bool:
    """Whether the photos a ``cffd train`` model was made from are on this machine (else, restoring its
    training faces needs a folder of the analyst's own genuine faces)."""
    text = manifest.contents.get("recipe")
    if not text:
        return False
    try:
        faces_folder(recipe_from_text(text, "the recorded recipe"))
    except CFFDError:
        return False
    return True


def restore_training_faces(
    store, version: str | None = None, job: JobControl | None = None, faces: Path | str | None = None
) -> str:
    """Rebuild the replay buffer and validation faces a shared bundle left out, from photos.

    A model trained by ``cffd train`` in joint mode carries its recipe; the same recipe on the
    same photos makes the same forgeries, and the same weights pick the same replay faces.
    The result is a new version (parent: ``version``) with identical weights that can learn;
    it becomes active if ``version`` was. The validation accuracy recorded at training is
    measured again on the rebuilt faces and must agree, or nothing is written.

    ``faces``: a folder of the analyst's own genuine face images instead of the recipe's photos
    (which an analyst does not have). The recipe's forgeries are made from them, sized to how
    many there are (``own_faces_recipe``); the accuracy cannot be compared with training's, so
    it is measured on the rebuilt validation faces and recorded with where they came from.
    """
    from cffd_engine.continual import ContinualSettings, first_buffer
    from cffd_engine.model.device import cpu_threads
    from cffd_engine.store import load_model

    job = ensure_job(job)
    version, manifest, recipe = _restorable(store, version)
    own_faces = faces is not None
    if own_faces:
        recipe = own_faces_recipe(recipe, own_face_images(Path(faces), job.sub(0.0, 0.2)), Path(faces))
        job = job.sub(0.2, 1.0)
    faces = faces_folder(recipe)
    model = load_model(store.path(version), manifest, verify=False)
    settings = ContinualSettings.from_dict(recipe.continual)
    cache = _rebuild_folder(manifest.contents["recipe"], recipe, faces, own_faces)
    tasks = load_tasks(recipe, faces, cache, model.config.input_size, job.sub(0.0, 0.65))
    names = [task.name for task in tasks]
    if names != manifest.metrics.get("task_names"):
        raise CFFDError(f"{version}: the recipe makes tasks {names}, the model learned {manifest.tasks}")
    with cpu_threads(settings.train.threads):
        validation, rebuilt_accuracy = _rebuilt_validation(model, manifest, tasks, version, faces, own_faces)
        buffer = first_buffer(names, [task.train for task in tasks], model, settings, job.sub(0.65, 0.95))
    manifest.contents = {k: v for k, v in manifest.contents.items() if k not in ("imported_from", "omitted")}
    manifest.contents["restored_from"] = f"{version}, training faces rebuilt from {faces}"
    if own_faces:
        manifest.contents["restored_from"] += (
            f" (the analyst's own genuine faces, {recipe.build['per_task']} per task, by the recipe's forgery code)"
        )
        manifest.metrics["rebuilt_validation_accuracy"] = rebuilt_accuracy
    new_version = _commit_restored(store, version, manifest, model, buffer, validation)
    if store.active_version() == version:
        store.activate(new_version)
    job.report(1.0, f"{new_version}: {version} with its training faces")
    return new_version


def _restorable(store, version: str | None) -> tuple[str, Any, Recipe]:
    """``version`` (default: the active one), its manifest and its recorded recipe, if its faces can be rebuilt."""
    version = version or store.active_version()
    if version is None:
        raise CFFDError(f"{store.root}: no model version to restore")
    manifest = store.verify(version)
    if manifest.learnable:
        raise CFFDError(f"{version} already carries its replay buffer; nothing to restore")
    text = manifest.contents.get("recipe")
    if not text or manifest.contents.get("training_mode") != "joint":
        raise CFFDError(
            f"{version} was not made by `cffd train` in joint mode, so its training faces cannot be "
            "rebuilt here; import a copy of it exported with its training faces"
        )
    return version, manifest, recipe_from_text(text, f"the recipe recorded in {version}")


def _rebuild_folder(text: str, recipe: Recipe, faces: Path, own_faces: bool) -> Path:
    """Where the rebuilt sequence is kept in the user cache, named by everything that decides its faces."""
    from cffd_engine.data.synth.builder import forgery_code_digest

    # The forgery code is part of the key: a build cached by earlier code makes other faces. So are the
    # build settings, which an analyst's own folder sizes, and that folder's files, which they may change.
    key = f"{text}\n{faces.resolve()}\n{json.dumps(recipe.build, sort_keys=True)}\n{forgery_code_digest()}"
    if own_faces:
        from cffd_engine.data.synth.pool import list_faces

        key += "\n" + "\n".join(f"{path.name}:{path.stat().st_size}" for path in list_faces(faces))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("cffd-studio", appauthor=False)) / "training" / digest


def _rebuilt_validation(model, manifest, tasks: list, version: str, faces: Path, own_faces: bool):
    """The rebuilt validation sets and the model's accuracy on each; from the recipe's own photos, the
    accuracy must be what was recorded at training, else nothing is changed."""
    from cffd_engine.calibration import raw_threshold
    from cffd_engine.continual import evaluate
    from cffd_engine.continual.validation import ValidationSets

    validation = ValidationSets(model.config.input_size)
    for task in tasks:
        task.val.tasks = [task.name] * len(task.val)
        validation.add(task.name, task.val)
        task.train.tasks = [task.name] * len(task.train)
    rebuilt_accuracy = {}
    names = [task.name for task in tasks]
    for name, expected in zip(names, manifest.metrics["accuracy"][-1], strict=True):
        measured = evaluate(model, validation.get(name), raw_threshold(manifest.decision)).accuracy
        rebuilt_accuracy[name] = round(measured, 4)
        if not own_faces and expected is not None and abs(measured - expected) > 0.005:
            raise CFFDError(
                f"the rebuilt validation faces of '{name}' are not those {version} was measured on "
                f"(accuracy {measured:.3f}, recorded {expected:.3f}): the photos in {faces} or the "
                "forgery code differ from training; nothing was changed"
            )
    return validation, rebuilt_accuracy


def _commit_restored(store, version: str, manifest, model, buffer, validation) -> str:
    """Commit ``version``'s files with the rebuilt replay buffer and validation faces as a new version."""
    from cffd_engine.store import write_bundle
    from cffd_engine.store.bundle import REPLAY_DIR, VALIDATION_DIR, WEIGHTS

    staged = store.new_staging_folder()
    try:
        for name in manifest.files:  # anything else the version ships (its reference spectrum)
            if name != WEIGHTS and not name.startswith((f"{REPLAY_DIR}/", f"{VALIDATION_DIR}/")):
                (staged / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(store.path(version) / name, staged / name)
        buffer.save(staged / REPLAY_DIR)
        validation.save(staged / VALIDATION_DIR)
        manifest.parent_version = version
        write_bundle(staged, model, manifest)
        return store.commit(staged)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def check_resume(work: Path, resume: bool) -> None:
    """Refuse to silently restart over an interrupted run's checkpoints, or to resume nothing."""
    from cffd_engine.continual.trainer import CHECKPOINT_INDEX

    found = sorted(work.rglob(CHECKPOINT_INDEX)) if work.is_dir() else []
    if found and not resume:
        raise CFFDError(
            f"{work} holds the checkpoint of an interrupted run ({found[0]}); continue it with --resume, "
            "or choose another --out"
        )
    if resume and not found:
        raise CFFDError(f"--resume: {work} holds no checkpoint to resume from; run without --resume")
