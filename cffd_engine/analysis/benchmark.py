"""Benchmark of ``cffd analyze`` end to end: frames per second, peak memory, time to a finished PDF.

Run ``cffd bench analysis [--video clip.mp4] [--model bundle] [--json out.json]``.
Without ``--video`` it makes the media benchmark's 720p H.264 clip (a real face
gliding over a texture, 300 frames); without ``--model`` it writes a bundle of
an untrained ``lite`` RSIA-Net (speed does not depend on the weights). The
command runs once, in this process, exactly as a user would run it (stride 1,
default settings, a PDF report). Figures depend on the machine and on what else
runs on it: the JSON records the processor, the core count and the load.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cffd_engine.analysis.environment import processor_name
from cffd_engine.errors import CFFDError

GOAL_FPS = 50.0
GOAL_PEAK_MB = 1536.0


@dataclass
class AnalysisBenchmark:
    """What one run of ``cffd analyze --report`` cost on this machine."""

    video: str
    frames: int
    faces: int
    preset: str
    end_to_end_fps: (
        float  # frames read / the whole analysis of the file (hash, decode, detect, infer, explain)
    )
    pipeline_fps: float  # frames read / the overlapped decode + detect + inference stage alone
    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = (
        0.0  # everything resident, shared libraries included (the CUDA build of torch: ~0.4 GB)
    )
    peak_private_mb: float = 0.0  # anonymous memory only: what this process itself allocated
    goals: dict[str, float] = field(default_factory=lambda: {"fps": GOAL_FPS, "peak_rss_mb": GOAL_PEAK_MB})
    machine: dict[str, str | int | float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        meets = lambda ok: "meets" if ok else "misses"  # noqa: E731
        return [
            f"{self.frames} frames, {self.faces} faces, preset {self.preset}, {self.machine.get('cpus')} cores "
            f"({self.machine.get('processor')}), load {self.machine.get('load_before')} -> {self.machine.get('load_after')}",
            f"end to end {self.end_to_end_fps:.1f} frames/s ({meets(self.end_to_end_fps >= GOAL_FPS)} the goal of "
            f"{GOAL_FPS:.0f}); decode+detect+inference stage {self.pipeline_fps:.1f} frames/s",
            f"peak memory {self.peak_rss_mb:.0f} MB resident ({meets(self.peak_rss_mb < GOAL_PEAK_MB)} the goal of "
            f"< {GOAL_PEAK_MB:.0f} MB), of which {self.peak_private_mb:.0f} MB private (the rest: mapped libraries)",
            "seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in self.seconds.items()),
        ]


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class PrivateMemoryWatch:
    """Samples this process's anonymous resident memory (Linux ``RssAnon``) every 50 ms; ``peak_mb`` after."""

    def __init__(self):
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def sample_mb() -> float:
        try:
            with open("/proc/self/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, self.sample_mb())

    def __enter__(self) -> PrivateMemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.sample_mb())


def untrained_bundle(folder: Path, preset_name: str = "lite") -> Path:
    """A bundle of a freshly initialised model of ``preset_name`` (for timing only)."""
    import torch

    from cffd_engine.model import create_model
    from cffd_engine.store import BundleManifest, write_bundle

    torch.manual_seed(0)
    model = create_model(preset_name)
    manifest = BundleManifest(model_config=model.config.to_dict(), description="untrained, for benchmarks")
    write_bundle(folder, model, manifest)
    return folder


def run_benchmark(
    video: Path,
    bundle: Path,
    out_dir: Path,
    analyze: Callable[[list[str]], int],
    extra_args: list[str] | None = None,
) -> AnalysisBenchmark:
    """Run ``cffd analyze <video> --model <bundle> --report`` once and time it.

    ``analyze`` is the command's entry (``cffd_engine.cli.analyze.main``): argv in, exit status out.
    """
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    pdf = out_dir / "benchmark_report.pdf"
    with PrivateMemoryWatch() as watch:
        started = time.perf_counter()
        code = analyze(
            [str(video), "--model", str(bundle), "--report", str(pdf), "--quiet", *(extra_args or [])]
        )
        finished = time.perf_counter()
    if code != 0:  # analyze has printed why
        raise CFFDError(
            f"the benchmark's analysis of {video} did not complete (cffd analyze exited with {code}; "
            "its message is above): give --video a video with a face it can read, and --model a bundle folder"
        )
    report = json.loads(pdf.with_suffix(".json").read_text(encoding="utf-8"))
    result = report["results"][0]
    timings = result["timings"]
    total = finished - started
    analysis = timings["total_s"]
    return AnalysisBenchmark(
        video=str(video),
        frames=result["frames_read"],
        faces=result["faces_scored"],
        preset=result["model"]["preset"],
        end_to_end_fps=round(result["frames_read"] / max(analysis, 1e-9), 2),
        pipeline_fps=timings["frames_per_second"],
        seconds={
            "command_to_pdf": round(total, 2),
            "analysis": analysis,
            "hashing": timings.get("hashing_s", 0.0),
            "decode_detect_infer": timings["decode_detect_judge_s"],
            "of_which_inference": timings["inference_s"],
            "explanations": timings.get("explanations_s", 0.0),
        },
        peak_rss_mb=round(peak_rss_mb(), 1),
        peak_private_mb=round(watch.peak_mb, 1),
        machine={
            "processor": processor_name(),
            "cpus": os.cpu_count() or 0,
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0,
            "threads": result["environment"]["cpu_threads"],
        },
    )
