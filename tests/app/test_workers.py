import threading

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
