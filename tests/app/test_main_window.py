import hashlib

import pytest

from app.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    main_window = MainWindow()
    qtbot.addWidget(main_window)
    main_window.show()
    return main_window


def test_opening_a_video_shows_its_metadata_first_frame_and_hash(qtbot, window, portrait_video):
    with qtbot.waitSignal(window.hashes_ready, timeout=30_000):
        window.open_paths([portrait_video])
    labels = window.metadata_labels
    assert labels["resolution"].text() == "640 x 480"
    assert labels["frame_count"].text() == "20"
    assert labels["codec"].text() == "mpeg4"
    assert labels["sha256"].text() == hashlib.sha256(portrait_video.read_bytes()).hexdigest()
    assert not window.preview.pixmap().isNull()
    assert not window.error_banner.isVisible()


def test_unreadable_input_shows_a_message_and_the_window_stays_usable(
    qtbot, window, tmp_path, portrait_video
):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"")
    with qtbot.waitSignal(window.evidence_failed, timeout=10_000) as failure:
        window.open_paths([broken])
    assert "empty" in failure.args[0]
    assert window.error_banner.isVisible() and str(broken) in window.error_banner.text()

    with qtbot.waitSignal(window.hashes_ready, timeout=30_000):
        window.open_paths([portrait_video])
    assert not window.error_banner.isVisible()
    assert window.metadata_labels["frame_count"].text() == "20"
