"""Progress on stderr for the ``cffd`` commands: a redrawn bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time

from cffd_engine.jobs import JobControl

# Away from a terminal (a log, a pipe), progress is a plain line when it starts, at each tenth of
# the work and at least this often, not a bar redrawn with carriage returns.
LOG_INTERVAL_S = 30.0


def progress_bar(label: str, stream=None) -> JobControl:
    """A JobControl that shows progress on stderr: a redrawn bar on a terminal, plain lines elsewhere."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return JobControl(progress_lines(label, stream), min_step=0.01)

    def draw(fraction: float, message: str) -> None:
        filled = int(fraction * 30)
        end = "\n" if fraction >= 1.0 else ""
        print(
            f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:6.1%} {message:<20}",
            end=end,
            file=stream,
            flush=True,  # a bar drawn without newlines would otherwise go out in pieces, mid-line
        )

    return JobControl(draw, min_step=0.01)


def progress_lines(label: str, stream, clock=time.monotonic):
    """A progress callback writing ``label: 40% message`` at each tenth of the work or LOG_INTERVAL_S."""
    last = {"tenth": -1, "time": clock()}

    def write(fraction: float, message: str) -> None:
        now, tenth = clock(), int(fraction * 10 + 1e-9)
        if tenth <= last["tenth"] and now - last["time"] < LOG_INTERVAL_S:
            return
        last.update(tenth=tenth, time=now)
        print(f"{label}: {fraction:.0%} {message}".rstrip(), file=stream, flush=True)

    return write
