"""Dataset adapters on miniature trees in each real layout: labels, splits, methods, and clear layout errors."""

import json
import shutil
from collections import Counter

import pytest

from cffd_engine.data.adapters import guess_dataset, load_manifest
from cffd_engine.data.manifest import FAKE, REAL, DatasetLayoutError
from tests import dataset_trees as trees


def _counts(manifest, *fields):
    return Counter(tuple(getattr(e, f) for f in fields) for e in manifest)


def test_ffpp_labels_methods_and_official_splits(tmp_path):
    root = trees.ffpp_tree(tmp_path / "FF++", extra_real=("999",))
    manifest = load_manifest(root, "ff++", compression="c23")
    by_id = {(e.method, e.video_id): e for e in manifest}
    assert by_id[("real", "000")].label == REAL and by_id[("real", "000")].split == "train"
    assert by_id[("Deepfakes", "003_000")].label == FAKE and by_id[("Deepfakes", "003_000")].split == "train"
    assert (
        by_id[("Face2Face", "004_005")].split == "val"
        and by_id[("NeuralTextures", "007_006")].split == "test"
    )
    counts = _counts(manifest, "split", "method")
    assert counts[("train", "real")] == 4 and counts[("val", "real")] == 2 and counts[("test", "real")] == 2
    for method in trees.FFPP_METHODS:
        assert (counts[("train", method)], counts[("val", method)], counts[("test", method)]) == (4, 2, 2)
    assert {e.dataset for e in manifest} == {"ff++"} and {e.compression for e in manifest} == {"c23"}
    assert "999" not in {e.video_id for e in manifest}
    assert "1 FF++ video(s) are in no split file" in manifest.notes[0]
    assert all(e.path.startswith(str(root)) for e in manifest)


def test_ffpp_all_compressions_and_chosen_methods(tmp_path):
    root = trees.ffpp_tree(tmp_path / "ff", compressions=("c23", "c40"))
    both = load_manifest(root, "faceforensics++", compression=None, methods=["DF", "NT"])
    assert {e.compression for e in both} == {"c23", "c40"}
    assert {e.method for e in both} == {"real", "Deepfakes", "NeuralTextures"}
    assert len(both) == 2 * (8 + 8 + 8)


def test_ffpp_missing_split_files_are_named(tmp_path):
    root = trees.ffpp_tree(tmp_path / "ff", splits=False)
    (root / "splits").mkdir()
    (root / "splits" / "train.json").write_text(json.dumps(trees.FFPP_PAIRS["train"]))
    with pytest.raises(DatasetLayoutError) as caught:
        load_manifest(root, "ff++")
    missing = " ".join(caught.value.missing)
    assert "val.json" in missing and "test.json" in missing and "train.json" not in missing
    assert "dataset/splits" in str(caught.value)


def test_ffpp_partial_layout_names_every_missing_folder(tmp_path):
    root = trees.ffpp_tree(tmp_path / "ff", methods=("Deepfakes",))
    shutil.rmtree(root / "original_sequences")
    (root / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "000_003.mp4").unlink()
    with pytest.raises(DatasetLayoutError) as caught:
        load_manifest(root, "ff++", methods=["Deepfakes", "Face2Face"])
    missing = caught.value.missing
    assert any("original_sequences/youtube/c23/videos" in m for m in missing)
    assert any("manipulated_sequences/Face2Face/c23/videos" in m for m in missing)
    assert not any("Deepfakes" in m for m in missing)  # still has videos


def test_ffpp_bad_split_file_is_named(tmp_path):
    root = trees.ffpp_tree(tmp_path / "ff")
    (root / "splits" / "val.json").write_text("{not json")
    with pytest.raises(DatasetLayoutError, match="val.json"):
        load_manifest(root, "ff++")


def test_wrong_dataset_for_the_folder_says_what_it_looks_like(tmp_path):
    root = trees.celebdf_tree(tmp_path / "Celeb-DF-v2")
    with pytest.raises(DatasetLayoutError) as caught:
        load_manifest(root, "ff++")
    assert "original_sequences/youtube/c23/videos" in str(caught.value)
    assert "try --dataset celeb-df-v2" in str(caught.value)
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        load_manifest(tmp_path / "nowhere", "ff++")


@pytest.mark.parametrize(("spelling", "nested"), [("YouTube-real", False), ("Youtube-real", True)])
def test_celebdf_test_list_labels_and_both_spellings(tmp_path, spelling, nested):
    root = trees.celebdf_tree(tmp_path / "cdf", youtube=spelling, nested=nested)
    manifest = load_manifest(root, "celeb-df-v2")
    by_id = {e.video_id: e for e in manifest}
    assert len(manifest) == 8
    assert (by_id["00001"].label, by_id["00001"].split) == (REAL, "test")
    assert (by_id["id0_0001"].label, by_id["id0_0001"].split) == (REAL, "test")
    assert (by_id["id0_id1_0001"].label, by_id["id0_id1_0001"].split) == (FAKE, "test")
    assert by_id["id0_id1_0000"].method == "Celeb-synthesis" and by_id["id0_0000"].method == "real"
    assert {by_id[i].split for i in ("id0_0000", "id1_0000", "00000", "id0_id1_0000")} <= {"train", "val"}
    assert "1 video(s) of List_of_testing_videos.txt are not on disk" in manifest.notes[0]


def test_celebdf_missing_parts_and_bad_lines_are_named(tmp_path):
    root = trees.celebdf_tree(tmp_path / "cdf")
    shutil.rmtree(root / "Celeb-synthesis")
    (root / "List_of_testing_videos.txt").unlink()
    with pytest.raises(DatasetLayoutError) as caught:
        load_manifest(root, "cdf2")
    assert any("Celeb-synthesis" in m for m in caught.value.missing)
    assert any("List_of_testing_videos.txt" in m for m in caught.value.missing)
    root = trees.celebdf_tree(tmp_path / "cdf-bad")
    (root / "List_of_testing_videos.txt").write_text("1 YouTube-real/00001.mp4\n0 Celeb-real/id0_0001.mp4\n")
    with pytest.raises(DatasetLayoutError, match="line 2: label 0 contradicts folder Celeb-real"):
        load_manifest(root, "celeb-df-v2")


def test_dfdc_preview_labels_sets_and_methods(tmp_path):
    root = trees.dfdc_tree(tmp_path / "dfdc_preview_set")
    manifest = load_manifest(root, "dfdc-p")
    by_id = {e.video_id: e for e in manifest}
    assert (by_id["1255229_001"].label, by_id["1255229_001"].method) == (REAL, "real")
    assert (by_id["1255229_A_001"].label, by_id["1255229_A_001"].method) == (FAKE, "method_A")
    assert by_id["1255229_B_002"].method == "method_B" and by_id["1255229_B_002"].split == "test"
    assert by_id["1255229_002"].split == "test"
    assert by_id["1255229_001"].split in ("train", "val")
    assert by_id["1255229_001"].split == by_id["1255229_A_001"].split  # one identity, one split


def test_dfdc_preview_missing_index_and_malformed_entry(tmp_path):
    root = trees.dfdc_tree(tmp_path / "dfdc")
    (root / "dataset.json").unlink()
    with pytest.raises(DatasetLayoutError, match="dataset.json"):
        load_manifest(root, "dfdc-preview")
    (root / "dataset.json").write_text(json.dumps({"method_A/x.mp4": {"set": "train"}}))
    with pytest.raises(DatasetLayoutError, match="needs 'label'"):
        load_manifest(root, "dfdc-p")
    (root / "dataset.json").write_text(json.dumps({"method_A/gone.mp4": {"label": "fake", "set": "train"}}))
    with pytest.raises(DatasetLayoutError, match="none is on disk"):
        load_manifest(root, "dfdc-p")


def test_dfd_actors_and_fakes_split_by_actor(tmp_path):
    root = trees.dfd_tree(tmp_path / "FF++")
    manifest = load_manifest(root, "dfd")
    assert _counts(manifest, "method") == {("real",): 8, ("DeepFakeDetection",): 4}
    split_of_actor = {}
    for entry in manifest:
        split_of_actor.setdefault(entry.video_id[:2], set()).add(entry.split)
    assert all(len(splits) == 1 for splits in split_of_actor.values())
    assert manifest.entries == load_manifest(root, "dfd").entries  # the same on every run
    shutil.rmtree(root / "manipulated_sequences")
    with pytest.raises(DatasetLayoutError, match="DeepFakeDetection/c23/videos"):
        load_manifest(root, "dfd")


def test_plain_folder_real_fake_and_methods(tmp_path):
    root = trees.folder_tree(tmp_path / "examples")
    manifest = load_manifest(root, "folder")
    by_name = {e.path.split("/")[-1]: e for e in manifest}
    assert {n for n, e in by_name.items() if e.label == REAL} == {"a.mp4", "b.mp4", "c.mp4", "photo.png"}
    assert by_name["x.mp4"].method == "SimSwap" and by_name["loose.mp4"].method == "fake"
    assert {e.split for e in manifest} <= {"train", "val", "test"}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetLayoutError) as caught:
        load_manifest(empty, "folder")
    assert caught.value.missing == ["real/ with videos or images", "fake/ with videos or images"]


def test_guess_dataset_from_the_layout(tmp_path):
    assert guess_dataset(trees.ffpp_tree(tmp_path / "a")) == "ff++"
    assert guess_dataset(trees.dfd_tree(tmp_path / "b")) == "dfd"
    assert guess_dataset(trees.celebdf_tree(tmp_path / "c")) == "celeb-df-v2"
    assert guess_dataset(trees.dfdc_tree(tmp_path / "d")) == "dfdc-p"
    assert guess_dataset(trees.folder_tree(tmp_path / "e")) == "folder"
    assert guess_dataset(tmp_path) is None
