"""Grad-CAM heatmaps for the judged faces analysis did not explain, computed in the background and kept.

A heatmap is made with the very model version that produced the result (found in the
model store by version and weights hash; one loaded ``Explainer`` per version, reused),
from the face cut again from the evidence as analysis cut it (``explain_judged_face``).
Loading and computing run on one thread of their own, one job after another; a newer
request abandons the one before, so only the frame the analyst is on gets computed.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.workers import Job, WorkControl, pool
from cffd_engine.analysis import AnalysisResult, FrameScore
from cffd_engine.errors import CFFDError
from cffd_engine.store import BundleError, ModelStore
from cffd_engine.store.bundle import WEIGHTS

if TYPE_CHECKING:  # torch: loaded by the first heatmap, not with the window
    from cffd_engine.analysis.keyframes import FaceHeat

POOL = "heatmaps"
CACHE_FACES = 64  # a face's map is the model's input size squared in float32: 64 of 224 px are 13 MB
KEEP_MODELS = 2

HeatKey = tuple[str, str, int, int]  # evidence path, analysis start, track, frame


def heat_key(result: AnalysisResult, track_id: int, frame_index: int) -> HeatKey:
    return result.evidence.path, result.started_utc, track_id, frame_index


class Heatmaps(QObject):
    """On-demand Grad-CAM per (result, track, frame): ``request`` it, hear ``ready`` or ``failed``, read ``cached``."""

    ready = Signal(object)  # the HeatKey now in the cache
    failed = Signal(object, str)  # the HeatKey, and why

    def __init__(self, store: ModelStore | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.store = store
        self._cache: OrderedDict[HeatKey, FaceHeat] = OrderedDict()
        # Loaded explainers by (version, weights hash, CAM level): used on the heatmap thread only.
        self._explainers: OrderedDict[tuple, object] = OrderedDict()
        self._job: Job | None = None
        self._job_key: HeatKey | None = None

    def missing_model(self, result: AnalysisResult) -> str | None:
        """Why no heatmap can be computed for ``result`` (its model is not in the store), or None."""
        model = result.model
        version = model.version or model.source
        gone = (
            f"No heatmap on this frame: model {version}, which produced this result, is no longer in the "
            "model store, so none can be computed. Heatmaps are shown on the key frames (stars on the "
            "timeline; Page Up / Page Down jump between them)."
        )
        if self.store is None or model.version is None or model.version not in self.store.versions():
            return gone
        try:
            stored = self.store.manifest(model.version).files.get(WEIGHTS)
        except BundleError:
            return gone
        if stored != model.weights_sha256:
            return gone.replace("is no longer in the model store", "is not the store's version of that name")
        return None

    def cached(self, result: AnalysisResult, track_id: int, frame_index: int) -> FaceHeat | None:
        heat = self._cache.get(heat_key(result, track_id, frame_index))
        if heat is not None:
            self._cache.move_to_end(heat_key(result, track_id, frame_index))
        return heat

    def request(self, result: AnalysisResult, score: FrameScore) -> None:
        """Compute ``score``'s face in the background unless it is cached or being computed; abandon any other."""
        key = heat_key(result, score.track_id, score.frame_index)
        if key in self._cache or key == self._job_key:
            return
        self.cancel()
        job = Job(partial(self._compute, result, score))
        job.finished.connect(partial(self._done, key))
        job.failed.connect(partial(self._failed, key))
        self._job, self._job_key = job, key
        job.start(pool(POOL))

    def cancel(self, keep: HeatKey | None = None) -> None:
        """Abandon the job under way, unless it computes ``keep``: its frame is no longer wanted."""
        if self._job is not None and self._job_key != keep:
            self._job.abandon()
            self._forget()

    def _forget(self) -> None:
        self._job, self._job_key = None, None

    def _compute(self, result: AnalysisResult, score: FrameScore, control: WorkControl) -> FaceHeat:
        from cffd_engine.analysis.keyframes import explain_judged_face

        explainer = self._explainer(result)
        control.check()
        return explain_judged_face(
            explainer, result.evidence.path, result.settings, result.model.input_size, score, control
        )

    def _explainer(self, result: AnalysisResult):
        """The result's model, loaded once (it takes seconds) and kept for the next frame."""
        from cffd_engine.analysis.keyframes import result_explainer

        model = result.model
        which = (model.version, model.weights_sha256, result.settings.cam_level)
        if which not in self._explainers:
            problem = self.missing_model(result)
            if problem is not None:
                raise CFFDError(problem)
            loaded, _manifest = self.store.load(model.version)
            self._explainers[which] = result_explainer(loaded, result.settings)
            while len(self._explainers) > KEEP_MODELS:
                _, old = self._explainers.popitem(last=False)
                old.close()
        self._explainers.move_to_end(which)
        return self._explainers[which]

    def _done(self, key: HeatKey, heat: FaceHeat) -> None:
        self._forget()
        self._cache[key] = heat
        while len(self._cache) > CACHE_FACES:
            self._cache.popitem(last=False)
        self.ready.emit(key)

    def _failed(self, key: HeatKey, message: str) -> None:
        self._forget()
        self.failed.emit(key, message)
