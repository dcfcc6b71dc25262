"""The manifest format and tasks as one-line filters over it."""

import pytest

from cffd_engine.data.adapters import load_manifest
from cffd_engine.data.manifest import PROTOCOLS, Manifest, Task, parse_protocol
from tests import dataset_trees as trees


@pytest.fixture
def ffpp(tmp_path):
    return load_manifest(
        trees.ffpp_tree(tmp_path / "ff", compressions=("c23", "c40")), "ff++", compression=None
    )


def test_task_is_real_plus_the_named_method(ffpp):
    task = Task.parse("ff++/c23/DF")
    assert (task.dataset, task.compression, task.methods, task.include_real) == (
        "ff++",
        "c23",
        ("Deepfakes",),
        True,
    )
    chosen = ffpp.filter(task)
    assert {(e.method, e.compression) for e in chosen} == {("real", "c23"), ("Deepfakes", "c23")}
    assert len(chosen) == 8 + 8
    assert Task.parse("FF++/c23/real+Deepfakes") == Task(
        "ff++", "c23", ("Deepfakes",), True, "FF++/c23/real+Deepfakes"
    )


def test_task_variants(ffpp):
    assert {e.method for e in ffpp.filter("ff++/c40/real")} == {"real"}
    assert {e.label for e in ffpp.filter("ff++/c23/fake")} == {1}
    assert {e.method for e in ffpp.filter("ff++/c23/fake:F2F+FS")} == {"Face2Face", "FaceSwap"}
    assert len(ffpp.filter("ff++")) == len(ffpp)
    assert len(ffpp.filter("dfdc-p")) == 0
    with pytest.raises(ValueError, match="unknown dataset"):
        Task.parse("imagenet/c23")
    with pytest.raises(ValueError, match="cannot read task"):
        Task.parse("ff++/c23/DF/F2F")


def test_protocols_are_one_line_each():
    forgery = parse_protocol(PROTOCOLS["forgery-incremental"])
    assert [t.methods for t in forgery] == [
        ("Deepfakes",),
        ("Face2Face",),
        ("FaceSwap",),
        ("NeuralTextures",),
    ]
    assert {t.compression for t in forgery} == {"c23"}
    datasets = parse_protocol("FF++/c23 -> DFDC-P -> CDF2")
    assert [t.dataset for t in datasets] == ["ff++", "dfdc-p", "celeb-df-v2"]


def test_dataset_incremental_over_combined_manifests(tmp_path, ffpp):
    combined = ffpp + load_manifest(trees.dfdc_tree(tmp_path / "dfdc"), "dfdc-p")
    combined += load_manifest(trees.celebdf_tree(tmp_path / "cdf"), "celeb-df-v2")
    sizes = [len(combined.filter(task)) for task in parse_protocol(PROTOCOLS["dataset-incremental"])]
    assert sizes == [40, 5, 8]
    assert combined.filter("cdf2").split("test").summary() == {
        "celeb-df-v2/test/Celeb-synthesis": 1,
        "celeb-df-v2/test/real": 2,
    }


def test_manifest_round_trips_through_json(tmp_path, ffpp):
    path = ffpp.save(tmp_path / "manifest.json")
    again = Manifest.load(path)
    assert again.entries == ffpp.entries and again.notes == ffpp.notes


def test_synthetic_families_are_datasets_a_protocol_can_name():
    from cffd_engine.data.manifest import ManifestEntry

    entries = [
        ManifestEntry(
            f"{family}/{label}/{i}.jpg", label, "train", family if label else "real", f"synth-{family}"
        )
        for family in ("blend", "swap")
        for label in (0, 1)
        for i in range(3)
    ]
    manifest = Manifest(entries)
    blend, swap = parse_protocol("synth-blend -> Synth_Swap")
    assert (blend.dataset, swap.dataset) == ("synth-blend", "synth-swap")
    assert {e.dataset for e in manifest.filter(swap)} == {"synth-swap"} and len(manifest.filter(swap)) == 6
    with pytest.raises(ValueError, match="synth-<family>"):
        Task.parse("synth-/c23")
