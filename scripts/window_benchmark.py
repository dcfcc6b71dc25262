"""The window's start-up and its analysis speed next to `cffd analyze` on the same files.

    .venv/bin/python scripts/window_benchmark.py --out benchmark_window.json
    .venv/bin/python scripts/window_benchmark.py --videos ../shared/data/videos/*.mp4 --runs 3

Start-up: `cffd-studio` itself, in a fresh process with its own data and settings folders
(XDG_DATA_HOME, XDG_CONFIG_HOME; the shipped default is installed by a first, untimed run):
  * shown: spawn to the window shown and taking events (the app quits at its first event-loop turn,
    CFFD_STUDIO_QUIT_AFTER_MS=1, so this is the whole `main()` up to the event loop, plus exit);
  * ready: spawn to the model loaded behind the window (the window's ``model_ready``).
Analysis: each video analysed by `cffd analyze --json` (its ``timings.total_s`` and the process's
wall time) and by the window (drop to verdict, and its ``timings.total_s``), with the window's own
analysis settings; the window's event-loop lateness while it analyses (a 50 ms timer) says whether
the interface stays responsive. The window runs offscreen. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = sorted((ROOT.parent / "shared" / "data" / "videos").glob("*.mp4"))

# Run in the child: the window as `cffd-studio` builds it, then one task, then a JSON line on stdout.
WINDOW_CHILD = """
import json, sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app.main_window import MainWindow
from cffd_engine.store import DEFAULT_BUNDLE

task, videos = sys.argv[1], sys.argv[2:]
app = QApplication(sys.argv[:1])
window = MainWindow(default_bundle=DEFAULT_BUNDLE)
window.show()
report = {}
lateness = []

def tick(expected=[None]):
    now = time.perf_counter()
    if expected[0] is not None:
        lateness.append(max(0.0, now - expected[0]))
    expected[0] = now + 0.05

def ready(version):
    report["ready_s"] = time.time()
    if task == "ready":
        app.quit()
        return
    report["results"] = []
    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(50)
    report["timer"] = timer
    report["began"] = time.perf_counter()
    window.open_paths([Path(v) for v in videos])

def finished(result):
    report["results"].append(
        {"name": result.evidence.name, "wall_s": time.perf_counter() - report["began"],
         "total_s": result.timings.get("total_s"), "verdict": result.verdict,
         "frames_read": result.frames_read}
    )
    report["began"] = time.perf_counter()
    if len(report["results"]) == len(videos):
        app.quit()

window.model_ready.connect(ready)
window.analysis_finished.connect(finished)
app.exec()
report.pop("timer", None); report.pop("began", None)
import resource
report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if lateness:
    lateness.sort()
    report["event_loop_late_ms"] = {
        "p50": 1000 * lateness[len(lateness) // 2],
        "p95": 1000 * lateness[int(0.95 * (len(lateness) - 1))],
        "max": 1000 * lateness[-1],
    }
print("REPORT " + json.dumps(report))
"""


def child_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
    }


def studio(home: Path, quit_after_ms: int) -> float:
    """Seconds from spawning `cffd-studio` to its exit, quitting ``quit_after_ms`` into the event loop."""
    env = child_env(home) | {"CFFD_STUDIO_QUIT_AFTER_MS": str(quit_after_ms)}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app.main"], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def window_task(home: Path, task: str, videos: list[Path]) -> tuple[dict, float]:
    """The child's report and the wall time of spawning it (seconds since the epoch when spawned)."""
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-c", WINDOW_CHILD, task, *map(str, videos)],
        cwd=ROOT,
        env=child_env(home),
        capture_output=True,
        text=True,
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("REPORT ")), None)
    if line is None:
        raise SystemExit(f"the window's run failed:\n{done.stderr[-3000:]}")
    return json.loads(line.removeprefix("REPORT ")), spawned


def cli_analysis(video: Path, out: Path) -> dict:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cffd_engine.cli", "analyze", str(video), "--json", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - began
    (result,) = json.loads(out.read_text(encoding="utf-8"))["results"]
    return {"name": video.name, "process_wall_s": wall, "total_s": result["timings"]["total_s"]}


def looped_720p(source: Path, minutes: float, out: Path) -> Path:
    """``source`` scaled to 1280x720 and looped to ``minutes`` (MPEG-4 Part 2 via OpenCV)."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while (ok_frame := capture.read())[0]:
        frames.append(cv2.resize(ok_frame[1], (1280, 720), interpolation=cv2.INTER_AREA))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for index in range(int(minutes * 60 * fps)):
        writer.write(frames[index % len(frames)])
    writer.release()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", nargs="*", type=Path, default=VIDEOS)
    parser.add_argument("--runs", type=int, default=3, help="start-up runs (the median is reported)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmark_window.json")
    parser.add_argument(
        "--long-minutes",
        type=float,
        default=0.0,
        help="also analyse, in the window, a 1280x720 video this long (the first video looped) and report "
        "its peak memory",
    )
    parser.add_argument(
        "--shown-only",
        action="store_true",
        help="only the time to the shown window (runs on older revisions too)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        studio(home, 1)  # installs the shipped default into this home's store; not timed
        shown = [studio(home, 1) for _ in range(args.runs)]
        print(f"window shown and taking drops: {statistics.median(shown):.2f} s (median of {shown})")
        if args.shown_only:
            return
        ready = []
        for _ in range(args.runs):
            report, spawned = window_task(home, "ready", [])
            ready.append(report["ready_s"] - spawned)
        window, _ = window_task(home, "analyse", args.videos) if args.videos else ({}, 0.0)
        cli = [cli_analysis(video, home / f"{video.stem}.json") for video in args.videos]
        long_run = None
        if args.long_minutes > 0:
            long_video = looped_720p(args.videos[0], args.long_minutes, home / "long.mp4")
            long_run, _ = window_task(home, "analyse", [long_video])

    figures = {
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "startup_shown_s": {"median": statistics.median(shown), "runs": shown},
        "startup_model_ready_s": {"median": statistics.median(ready), "runs": ready},
        "analysis_window": window.get("results", []),
        "analysis_cli": cli,
        "event_loop_late_ms_while_analysing": window.get("event_loop_late_ms"),
        "window_peak_rss_mb": window.get("peak_rss_mb"),
        "long_video": None
        if long_run is None
        else {"minutes": args.long_minutes, **long_run["results"][0], "peak_rss_mb": long_run["peak_rss_mb"]},
    }
    print(f"model loaded behind it:        {figures['startup_model_ready_s']['median']:.2f} s")
    for gui, command in zip(figures["analysis_window"], cli, strict=True):
        print(
            f"{gui['name']}: window {gui['wall_s']:.1f} s drop to verdict (analysis {gui['total_s']:.1f} s); "
            f"cffd analyze {command['total_s']:.1f} s analysis, {command['process_wall_s']:.1f} s with start-up"
        )
    if figures["event_loop_late_ms_while_analysing"]:
        late = figures["event_loop_late_ms_while_analysing"]
        print(
            f"window's event loop late by p50 {late['p50']:.0f} ms, p95 {late['p95']:.0f} ms, max {late['max']:.0f} ms"
        )
    print(f"window's peak memory over those analyses: {figures['window_peak_rss_mb']:.0f} MB")
    if long_run is not None:
        run = figures["long_video"]
        print(
            f"{args.long_minutes:g} min of 1280x720 in the window: {run['wall_s']:.0f} s, "
            f"{run['frames_read']} frames, peak memory {run['peak_rss_mb']:.0f} MB"
        )
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
