import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from app.workers import Job
from cffd_engine.errors import EvidenceError


def test_results_and_progress_reach_listeners_on_the_gui_thread(qtbot):
    gui_thread = QApplication.instance().thread()
    seen_threads, progress = [], []

    def work(control):
        control.report(0.5, "half")
        return threading.get_ident()

    job = Job(work)
    job.progress.connect(
        lambda fraction, message: (progress.append(fraction), seen_threads.append(QThread.currentThread()))
    )
    job.finished.connect(lambda result: seen_threads.append(QThread.currentThread()))
    with qtbot.waitSignal(job.finished, timeout=5_000) as finished:
        job.start()
    assert finished.args[0] != threading.get_ident()  # the work ran elsewhere
    assert progress == [0.5]
    assert seen_threads and all(thread is gui_thread for thread in seen_threads)


def test_cancel_and_user_errors_are_reported_as_such(qtbot):
    started = threading.Event()

    def endless(control):
        started.set()
        while True:
            control.check()

    job = Job(endless)
    with qtbot.waitSignal(job.cancelled, timeout=5_000):
        job.start()
        assert started.wait(5)
        job.cancel()

    def bad_input(control):
        raise EvidenceError("/evidence/x.mp4", "the file is empty (0 bytes)", "Copy it again")

    failing = Job(bad_input)
    with qtbot.waitSignal(failing.failed, timeout=5_000) as failure:
        failing.start()
    assert failure.args[0] == "/evidence/x.mp4: the file is empty (0 bytes). Copy it again"

    def disk_full(control):
        raise OSError(28, "No space left on device", "/models/staging/weights.safetensors")

    full = Job(disk_full)
    with qtbot.waitSignal(full.failed, timeout=5_000) as failure:
        full.start()
    assert failure.args[0] == (
        "The file system refused: [Errno 28] No space left on device: '/models/staging/weights.safetensors'"
    )


def test_partial_results_arrive_in_order_and_an_abandoned_job_is_silent(qtbot):
    partials = []

    def counting(control):
        for i in range(3):
            control.publish(i)
        return "done"

    job = Job(counting)
    job.partial.connect(partials.append)
    with qtbot.waitSignal(job.finished, timeout=5_000):
        job.start()
    assert partials == [0, 1, 2]

    started = threading.Event()

    def endless(control):
        started.set()
        while True:
            control.check()

    heard = []
    quiet = Job(endless)
    for signal in (quiet.finished, quiet.failed, quiet.cancelled):
        signal.connect(lambda *args: heard.append(args))
    quiet.start()
    assert started.wait(5)
    quiet.abandon()
    qtbot.waitUntil(lambda: not quiet.running, timeout=5_000)
    assert heard == [] and quiet.control.cancelled


def test_time_left_is_said_only_once_it_can_be_estimated():
    from app.progress_panel import TimeLeft, describe_seconds

    estimate = TimeLeft()
    start = estimate._began
    assert estimate.estimate(0.0, now=start) is None
    assert estimate.estimate(0.01, now=start + 5) is None  # too little done to say
    assert estimate.estimate(0.25, now=start + 10) == pytest.approx(30.0)
    assert estimate.estimate(1.0, now=start + 40) == 0.0
    assert [describe_seconds(s) for s in (3, 42, 130, 4000)] == [
        "a few seconds",
        "about 40 s",
        "about 2 min",
        "about 1 h 07 min",
    ]
