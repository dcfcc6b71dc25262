"""Dataset adapters on miniature trees in each real layout: labels, splits, methods, and clear layout errors."""

import json
import shutil
from collections import Counter

import pytest

from cffd_engine.data.adapters import guess_dataset, load_manifest
from cffd_engine.data.manifest import FAKE, REAL, DatasetLayoutError, Task
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
    assert guess_dataset(trees.dfdc_full_tree(tmp_path / "f")) == "dfdc"
    assert guess_dataset(tmp_path / "f" / "dfdc_train_part_1") == "dfdc"
    assert guess_dataset(tmp_path) is None


def _by_name(manifest):
    return {e.path.replace("\\", "/").rsplit("/", 1)[-1]: e for e in manifest}


def test_dfdc_full_labels_methods_and_notes(tmp_path):
    root = trees.dfdc_full_tree(tmp_path / "dfdc")
    manifest = load_manifest(root, "dfdc")
    by_name = _by_name(manifest)
    listed = {name for metadata in trees.DFDC_PARTS.values() for name in metadata}
    assert set(by_name) == listed - trees.DFDC_ABSENT
    assert {n for n, e in by_name.items() if e.label == REAL} == {
        "realaaaaaa.mp4",
        "realbbbbbb.mp4",
        "realcccccc.mp4",
    }
    assert {e.method for e in manifest if e.label == FAKE} == {"DFDC"}
    assert {e.method for e in manifest if e.label == REAL} == {"real"}
    assert {e.dataset for e in manifest} == {"dfdc"} and {e.compression for e in manifest} == {None}
    assert by_name["fakebbbb01.mp4"].path == str(root / "dfdc_train_part_0" / "fakebbbb01.mp4")
    assert by_name["fakebbbb01.mp4"].video_id == by_name["realbbbbbb.mp4"].video_id == "realbbbbbb"
    assert by_name["fakezzzz01.mp4"].label == FAKE and by_name["fakezzzz01.mp4"].video_id == "realzzzzzz"
    notes = " | ".join(manifest.notes)
    assert (
        "1 video(s) listed in metadata.json are not on disk, e.g. dfdc_train_part_0/goneaaaa01.mp4" in notes
    )
    assert "1 fake(s) name an original that is in no part here" in notes and "fakezzzz01.mp4" in notes
    assert manifest.entries == load_manifest(root, "dfdc-full").entries  # the same on every run
    assert len(manifest.filter(Task.parse("dfdc"))) == len(manifest)
    assert len(manifest.filter("DFDC-full/fake")) == 4 and len(manifest.filter("dfdc-p")) == 0


def test_dfdc_full_orphan_fake_lands_where_its_original_would(tmp_path):
    """A fake whose original is in no part is split by the original's name: where the original goes once there."""
    root = trees.dfdc_full_tree(tmp_path / "dfdc")
    for val, test in ((0.5, 0.0), (0.0, 0.5), (0.3, 0.3)):
        alone = _by_name(load_manifest(root, "dfdc", val_fraction=val, test_fraction=test))["fakezzzz01.mp4"]
        parts = {part: dict(metadata) for part, metadata in trees.DFDC_PARTS.items()}
        parts["dfdc_train_part_1"]["realzzzzzz.mp4"] = {"label": "REAL", "split": "train", "original": None}
        other = trees.dfdc_full_tree(tmp_path / f"with-{val}-{test}", parts)
        together = _by_name(load_manifest(other, "dfdc", val_fraction=val, test_fraction=test))
        assert alone.split == together["fakezzzz01.mp4"].split == together["realzzzzzz.mp4"].split


def test_dfdc_full_never_splits_a_fake_from_its_original(tmp_path):
    """Many originals over two parts, fakes often in the other part: every fake shares its original's split."""
    parts = {"dfdc_train_part_0": {}, "dfdc_train_part_7": {}}
    names = list(parts)
    for i in range(60):
        original = f"orig{i:06d}.mp4"
        parts[names[i % 2]][original] = {"label": "REAL", "split": "train", "original": None}
        for k in range(2):
            fake = {"label": "FAKE", "split": "train", "original": original}
            parts[names[(i + k) % 2]][f"fake{i:04d}{k:02d}.mp4"] = fake
    root = trees.dfdc_full_tree(tmp_path / "dfdc", parts, data=b"\0")
    manifest = load_manifest(root, "dfdc", val_fraction=0.3, test_fraction=0.3)
    assert len(manifest) == 180 and {e.split for e in manifest} == {"train", "val", "test"}
    split_of = {name: e.split for name, e in _by_name(manifest).items()}
    original_of = {
        n: i["original"] for metadata in parts.values() for n, i in metadata.items() if i["original"]
    }
    assert len(original_of) == 120
    assert all(split_of[fake] == split_of[original] for fake, original in original_of.items())


def test_dfdc_full_one_part_as_the_root_and_unlisted_videos(tmp_path):
    root = trees.dfdc_full_tree(tmp_path / "dfdc")
    trees.put(root / "dfdc_train_part_1" / "strayxxxxx.mp4")
    lone = trees.dfdc_full_tree(
        tmp_path / "lone", {"dfdc_train_part_3": {"fakenoorig.mp4": {"label": "FAKE"}}}
    )
    alone = load_manifest(lone / "dfdc_train_part_3", "dfdc")
    assert [(e.label, e.method, e.video_id) for e in alone] == [(FAKE, "DFDC", "fakenoorig")]
    assert any("1 fake(s) name no original" in n for n in alone.notes)
    whole = _by_name(load_manifest(root, "dfdc"))
    part = load_manifest(root / "dfdc_train_part_1", "dfdc")
    assert set(_by_name(part)) == {"realbbbbbb.mp4", "fakebbbb02.mp4", "realcccccc.mp4"}
    assert all(whole[name].split == e.split for name, e in _by_name(part).items())
    assert any("1 video(s) are in no metadata.json" in n and "strayxxxxx.mp4" in n for n in part.notes)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "as a JSON object"),
        (b"\x80", "as a JSON object"),
        (b"[]", "the top level is not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "as a JSON object"),
        (json.dumps({"a.mp4": "FAKE"}).encode(), "entry 'a.mp4' needs 'label'"),
        (json.dumps({"a.mp4": {"split": "train"}}).encode(), "entry 'a.mp4' needs 'label'"),
        (json.dumps({"a.mp4": {"label": "maybe"}}).encode(), "entry 'a.mp4' needs 'label'"),
        (
            json.dumps({"a.mp4": {"label": "FAKE", "original": 7}}).encode(),
            "'original' (a file name or null)",
        ),
        (json.dumps({"../a.mp4": {"label": "REAL"}}).encode(), "entry '../a.mp4' is not a file name"),
        (json.dumps({"/etc/hostname": {"label": "REAL"}}).encode(), "is not a file name"),
    ],
    ids=[
        "broken",
        "not-utf8",
        "list",
        "deep",
        "entry-text",
        "no-label",
        "odd-label",
        "original-number",
        "up",
        "abs",
    ],
)
def test_dfdc_full_malformed_metadata_is_named(tmp_path, content, says):
    root = trees.dfdc_full_tree(tmp_path / "dfdc")
    (root / "dfdc_train_part_1" / "metadata.json").write_bytes(content)
    with pytest.raises(DatasetLayoutError) as caught:
        load_manifest(root, "dfdc")
    assert "dfdc_train_part_1/metadata.json" in str(caught.value) and says in str(caught.value)
    assert str(root) in str(caught.value) and "dfdc_train_part_0/ ... dfdc_train_part_49/" in caught.value.fix


def test_dfdc_full_missing_parts_metadata_and_videos(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetLayoutError, match="dfdc_train_part_\\*/ folders"):
        load_manifest(empty, "dfdc")
    root = trees.dfdc_full_tree(tmp_path / "dfdc")
    (root / "dfdc_train_part_0" / "metadata.json").unlink()
    with pytest.raises(DatasetLayoutError) as caught:
        load_manifest(root, "dfdc")
    assert caught.value.missing == ["dfdc_train_part_0/metadata.json"]
    gone = {"gone.mp4": {"label": "REAL", "split": "train", "original": None}}
    (root / "dfdc_train_part_0" / "metadata.json").write_text(json.dumps(gone))
    (root / "dfdc_train_part_1" / "metadata.json").write_text(json.dumps(gone))
    with pytest.raises(DatasetLayoutError, match="none is on disk"):
        load_manifest(root, "dfdc")


def test_dfdc_full_and_preview_point_to_each_other(tmp_path):
    full, preview = trees.dfdc_full_tree(tmp_path / "full"), trees.dfdc_tree(tmp_path / "preview")
    with pytest.raises(DatasetLayoutError, match="try --dataset dfdc$"):
        load_manifest(full, "dfdc-p")
    with pytest.raises(DatasetLayoutError, match="try --dataset dfdc-p$"):
        load_manifest(preview, "dfdc")
