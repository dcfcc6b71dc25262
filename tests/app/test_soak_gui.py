"""Soak: a long batch of short videos dropped on the real window, each result opened as it comes in.

The queue keeps every result (the analyst can go back to any), so memory grows by what the
results hold; the bounds are on growth beyond that, measured at quiet moments (workers idle)
after the warm-up and after the batch: the C heap in use (a leak shows there) and the resident
set once glibc has handed back its free pages (fragmentation shows there, not in the heap).
The viewer keeps the decoded frames of two results at most. Native threads and open
descriptors must be what they were after the warm-up. The curve is printed and written as
JSON under the test's tmp folder (path printed).
"""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import weakref

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from app.evidence_queue import DONE, NO_VERDICT
from app.item_view import KEEP_FRAME_STORES
from app.workers import JobGroup, wait_for_all
from tests.app.test_analysis_view import drop
from tests.soak import MB, ProcessRecord, heap_in_use_bytes, open_fds, os_threads, rss_bytes, write_batch

# Over the 180 videos after the warm-up, beyond the bytes the kept results hold (2-core machine,
# under load). A leak of one decoded 320x240 frame per video (225 KiB) adds 40 MB to both.
# Heap in use: measured -4 MB (the kept results' small objects live outside malloc's heap).
HEAP_GROWTH_MB = 20
# Resident set after malloc_trim: measured 34 MB, partly used pages the trim cannot hand back.
TRIMMED_RSS_GROWTH_MB = 60


class _Emitter(QObject):
    happened = Signal(int)


def test_emitting_a_signal_leaves_the_reference_count_of_true_alone():
    """PySide6 6.12.0 drops a reference to ``True`` on every emit; on Python 3.11, where ``True`` is
    not immortal, the window died with "Fatal Python error: bool_dealloc" about a hundred videos
    into the soak below. pyproject.toml leaves that release out."""
    emitter = _Emitter()
    emitter.happened.connect(lambda value: None)
    before = sys.getrefcount(True)
    for value in range(1000):
        emitter.happened.emit(value)
    assert sys.getrefcount(True) - before > -100, "this PySide6 leaks references to True on emit"


def test_a_finished_job_is_freed_with_what_its_work_holds(qtbot):
    """JobGroup once connected each job's signals to a lambda holding the job: a cycle through Qt that
    Python cannot collect, so every job leaked, with what its work held (an export's results)."""
    group = JobGroup()
    job = group.start(lambda control: "done")
    with qtbot.waitSignal(job.finished, timeout=10_000):
        pass
    # The worker thread holds the job until its run() returns, a moment after it signalled.
    assert wait_for_all(10_000)
    gone = weakref.ref(job)
    del job
    gc.collect()
    assert len(group) == 0 and gone() is None


def settle() -> None:
    """Let every worker finish and the window take in what they sent."""
    assert wait_for_all(60_000)
    QApplication.processEvents()


def trimmed_rss_mb() -> float:
    """The resident set once glibc has handed back its free pages (malloc_trim).

    The frame viewer's worker decodes frames into its own heap and the window frees them;
    glibc keeps the pages, so the plain resident set grew 0.4 MB a video with no leak.
    """
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_bytes() / MB


def own_threads() -> list[str]:
    """Python's threads, less Qt's pool threads that ran Python (Python 3.11 lists those until exit)."""
    return sorted(t.name for t in threading.enumerate() if not isinstance(t, threading._DummyThread))


@pytest.mark.parametrize(
    "count, warm_up, check_memory",
    [
        # 15 videos are too few for a memory bound: the window's caches are still filling.
        pytest.param(20, 5, False, id="20-videos"),
        pytest.param(200, 20, True, id="200-videos", marks=pytest.mark.slow),
    ],
)
def test_the_queue_over_a_long_batch_leaks_no_memory_threads_or_descriptors(
    count, warm_up, check_memory, qtbot, window, tmp_path, capsys
):
    paths = write_batch(tmp_path / "videos", count)
    record = ProcessRecord(warm_up)

    def open_and_sample(result) -> None:
        (item_id,) = [i for i, item in window.queue.items.items() if item.result is result]
        window.queue.select(item_id)  # the analyst follows along: verdict, timeline, frames
        record.sample(result)

    window.analysis_finished.connect(open_and_sample)
    drop(window, paths[:warm_up])  # the first analysis loads the model and the face detector
    qtbot.waitUntil(lambda: len(record.samples) == warm_up, timeout=60_000 + 3_000 * warm_up)
    settle()
    rss_before, heap_before = trimmed_rss_mb(), heap_in_use_bytes()
    retained_before = record.samples[-1].retained_mb
    python_threads, threads, fds = own_threads(), os_threads(), open_fds()

    drop(window, paths[warm_up:])  # a second batch, dropped on the idle window
    qtbot.waitUntil(lambda: len(record.samples) == count, timeout=60_000 + 3_000 * count)
    settle()
    rss_after, heap_after = trimmed_rss_mb(), heap_in_use_bytes()
    retained = record.samples[-1].retained_mb - retained_before
    rss_growth = rss_after - rss_before - retained
    heap_growth = None if heap_before is None else (heap_after - heap_before) / MB - retained

    statuses = [item.status for item in window.queue.items.values()]
    assert len(statuses) == count and set(statuses) <= {DONE, NO_VERDICT}
    assert len(window.item_view._frames) <= KEEP_FRAME_STORES
    with capsys.disabled():
        record.write(
            tmp_path / f"soak-gui-{count}.json",
            trimmed_rss_mb_after_warm_up=round(rss_before, 2),
            trimmed_rss_mb_last=round(rss_after, 2),
            trimmed_rss_growth_beyond_results_mb=round(rss_growth, 2),
            settled_heap_growth_beyond_results_mb=None if heap_growth is None else round(heap_growth, 2),
            python_threads_before_after=[python_threads, own_threads()],
            os_threads_before_after=[threads, os_threads()],
            fds_before_after=[len(fds), len(open_fds())],
        )
    if check_memory:
        assert heap_growth is None or heap_growth <= HEAP_GROWTH_MB, record.summary()
        assert rss_growth <= TRIMMED_RSS_GROWTH_MB, record.summary()
    assert own_threads() == python_threads
    assert os_threads() == threads
    assert open_fds() == fds
