"""The wizard's examples without the window: which files a folder gives, and the faces found in them.

``cffd learn`` (``[examples] forgery = ...``) and the wizard call the same ``gather_faces``,
so one folder gives both the same files and the same faces.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from cffd_engine.config import read_update_plan
from cffd_engine.continual.examples import gather_faces
from cffd_engine.continual.samples import FAKE, REAL
from cffd_engine.errors import CFFDError
from tests import synthetic_media as sm

SIZE = 64
VIDEO_FRAMES, FACES_PER_VIDEO = 12, 4


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """A new forgery's folder: photos at two depths, a video, and what is not an example.

    Returns the folder, the genuine folder, and the example files written (what should be picked).
    """
    root = tmp_path_factory.mktemp("case")
    forgery, genuine = root / "new-forgery", root / "genuine"
    (forgery / "more").mkdir(parents=True)
    genuine.mkdir()
    photo = root / "portrait.png"  # one real face: exactly one is found in each copy
    cv2.imwrite(str(photo), cv2.cvtColor(sm.scaled_portrait(240), cv2.COLOR_RGB2BGR))
    wanted = [
        shutil.copy(photo, forgery / "face0.png"),
        shutil.copy(photo, forgery / "face1.png"),
        shutil.copy(photo, forgery / "more" / "face2.png"),
        sm.write_video(forgery / "more" / "clip.mp4", sm.moving_face_frames(VIDEO_FRAMES)),
    ]
    shutil.copy(photo, forgery / ".hidden.png")  # hidden files are not examples
    (forgery / "notes.txt").write_text("lips out of step at 0:03", encoding="utf-8")
    shutil.copy(photo, genuine / "mine.png")
    return forgery, genuine, sorted(map(Path, wanted))


def test_a_folder_gives_its_pictures_and_videos_at_any_depth_and_the_faces_in_them(examples):
    forgery, genuine, wanted = examples
    gathered = gather_faces([forgery], [genuine], SIZE, faces_per_video=FACES_PER_VIDEO)
    fakes = [source for source in gathered.sources if source.label == FAKE]
    assert [source.path for source in fakes] == wanted
    assert [source.path for source in gathered.sources if source.label == REAL] == [genuine / "mine.png"]
    assert all(source.problem is None for source in gathered.sources)
    # one face in each photo, FACES_PER_VIDEO in the video
    per_file = {source.path.name: source.faces for source in fakes}
    assert per_file == {"face0.png": 1, "face1.png": 1, "face2.png": 1, "clip.mp4": FACES_PER_VIDEO}
    assert len(gathered.fake) == 3 + FACES_PER_VIDEO and len(gathered.real) == 1
    # faces of one file stay together when the task is split (several sources: one group each)
    assert gathered.fake_groups.count(str(forgery / "more" / "clip.mp4")) == FACES_PER_VIDEO
    task = gathered.task_data("texture", "", SIZE)
    assert task.samples.counts() == {"fake": 3 + FACES_PER_VIDEO, "real": 1}


def test_cffd_learn_takes_the_same_faces_from_the_same_folder(examples, tmp_path):
    forgery, genuine, _ = examples
    update = tmp_path / "update.toml"
    update.write_text(
        f'name = "texture"\n[examples]\nforgery = "{forgery}"\ngenuine = "{genuine}"\n', encoding="utf-8"
    )
    task = read_update_plan(update).task_data(SIZE)
    gathered = gather_faces([forgery], [genuine], SIZE)
    assert task.samples.counts() == {"fake": len(gathered.fake), "real": len(gathered.real)}
    assert task.name == "texture" and task.validation is None
    assert f"manipulated and 1 genuine faces from {forgery}" in task.description


def test_an_update_whose_examples_are_missing_or_faceless_says_so(tmp_path):
    update = tmp_path / "update.toml"
    update.write_text('name = "x"\n[examples]\nforgery = "nowhere"\n', encoding="utf-8")
    with pytest.raises(CFFDError, match="no such file or folder: .*nowhere"):
        read_update_plan(update).task_data(SIZE)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here", encoding="utf-8")
    update.write_text('name = "x"\n[examples]\nforgery = "empty"\n', encoding="utf-8")
    with pytest.raises(CFFDError, match="no faces found"):
        read_update_plan(update).task_data(SIZE)
