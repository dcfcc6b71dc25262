"""The CLI's progress: a redrawn bar on a terminal, plain lines now and then in a log or a pipe."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np

from cffd_engine import cli
from tests import synthetic_media


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_redrawn_with_carriage_returns():
    stream = Terminal()
    job = cli.progress_bar("hash", stream)
    for step in range(1, 101):
        job.report(step / 100, "reading")
    text = stream.getvalue()
    assert text.count("\r") > 50 and text.count("\n") == 1 and text.endswith("\n")


def test_a_log_gets_a_plain_line_per_tenth_and_the_end():
    stream = io.StringIO()
    job = cli.progress_bar("hash", stream)
    for step in range(1, 1001):
        job.report(step / 1000, "reading")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    percents = [int(line.split()[1].rstrip("%")) for line in lines]
    assert lines[0] == "hash: 0% reading" and lines[-1] == "hash: 100% reading"
    assert [percent // 10 for percent in percents[1:]] == list(range(1, 11))  # one line per tenth


def test_a_slow_job_in_a_log_still_says_something_every_interval():
    now = [0.0]
    stream = io.StringIO()
    write = cli.progress_lines("train", stream, clock=lambda: now[0])
    for fraction in np.linspace(0.001, 0.05, 50):  # half a tenth, over 50 minutes
        now[0] += 60
        write(float(fraction), "")
    assert len(stream.getvalue().splitlines()) == 50  # one a minute: each call is past the interval


def test_cffd_probe_into_a_pipe_writes_no_carriage_returns(tmp_path):
    video = synthetic_media.write_video(tmp_path / "clip.mp4", synthetic_media.moving_face_frames(n_frames=8))
    done = subprocess.run(
        [sys.executable, "-m", "cffd_engine.cli", "probe", "--progress", str(video)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "clip.mp4: 100%" in done.stderr
