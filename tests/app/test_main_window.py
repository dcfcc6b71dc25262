import hashlib

from app.evidence_queue import WAITING_FOR_MODEL


def test_opening_a_video_shows_its_metadata_first_frame_and_hash(qtbot, window, portrait_video):
    with qtbot.waitSignal(window.hashes_ready, timeout=30_000):
        window.open_paths([portrait_video])
    panel = window.evidence_panel
    labels = panel.metadata_labels
    assert labels["resolution"].text() == "640 x 480"
    assert labels["frame_count"].text() == "20"
    assert labels["codec"].text() == "mpeg4"
    assert labels["sha256"].text() == hashlib.sha256(portrait_video.read_bytes()).hexdigest()
    assert not panel.preview.pixmap().isNull()
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
    assert window.evidence_panel.metadata_labels["frame_count"].text() == "20"


def test_without_a_model_the_window_says_how_to_get_one_and_still_reads_evidence(
    qtbot, make_window, empty_store, portrait_video
):
    window = make_window(empty_store)
    assert "No model installed" in window.model_label.text()
    assert "No detection model is installed" in window.welcome.model_label.text()
    assert not window.welcome.demo_button.isEnabled()
    with qtbot.waitSignal(window.hashes_ready, timeout=30_000):
        window.open_paths([portrait_video])
    (item,) = window.queue.items.values()
    assert item.status == WAITING_FOR_MODEL
    assert window.model_banner.isVisible() and "import a model bundle" in window.model_banner.text()


def test_a_folder_adds_its_videos_and_images_but_not_other_files(
    qtbot, make_window, empty_store, tmp_path, portrait_video
):
    folder = tmp_path / "case"
    (folder / "inner").mkdir(parents=True)
    (folder / "a.mp4").write_bytes(portrait_video.read_bytes())
    (folder / "inner" / "b.mp4").write_bytes(portrait_video.read_bytes())
    (folder / "notes.txt").write_text("not evidence")
    window = make_window(empty_store)
    window.open_paths([folder])
    assert sorted(item.path.name for item in window.queue.items.values()) == ["a.mp4", "b.mp4"]
    assert window.menus.recent()[0] == str(folder.absolute())


def test_an_analysed_file_shows_the_hashes_taken_at_intake(qtbot, window, portrait_video):
    with qtbot.waitSignal(window.analysis_finished, timeout=90_000) as finished:
        window.open_paths([portrait_video])
    result = finished.args[0]
    with qtbot.waitSignal(window.hashes_ready, timeout=30_000) as hashes:
        window.item_view.show_item(next(iter(window.queue.items.values())))
    assert hashes.args[0] == {"sha256": result.evidence.sha256, "md5": result.evidence.md5}
    assert window.evidence_panel.metadata_labels["md5"].text() == result.evidence.md5
    assert not window.evidence_panel.hash_progress.isVisible()


def test_on_first_start_the_default_model_bundle_is_installed_and_used(
    qtbot, make_window, empty_store, store
):
    default_bundle = store.export("v1", store.root.parent / "default.cffd", include_private_data=False)
    window = make_window(empty_store, default_bundle=default_bundle)  # a .cffd file, as the shipped one
    qtbot.waitUntil(lambda: empty_store.active_version() == "v1", timeout=30_000)
    qtbot.waitUntil(lambda: window.model_label.text() == "Active model: v1, knows: checker", timeout=5_000)
    assert window.statusBar().currentMessage() == "The default model is installed as v1."
    assert window.welcome.demo_button.isEnabled()


def test_the_model_loads_behind_the_shown_window_and_says_when_it_is_ready(qtbot, make_window, store):
    window = make_window(store)
    assert window.isVisible()
    with qtbot.waitSignal(window.model_ready, timeout=30_000) as ready:
        pass
    assert ready.args == ["v1"] and window.detector_label.text() == "Detector ready"
    assert (
        window.runner._loaded is not None and window.runner._loaded[0] == "v1"
    )  # the first file starts at once
