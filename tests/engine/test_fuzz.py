"""Property-based fuzzing of every reader of untrusted input: it parses, or it refuses with its documented error.

Each target is a plain ``check_*`` function that feeds one input to the real entry point and
lets through only the exceptions that entry point documents (a ``CFFDError`` naming the file,
or ``ValueError`` where the function's contract says so). Anything else (a bare ``KeyError``,
``TypeError``, ``OSError``, ``zipfile.BadZipFile``, ``RecursionError``) fails the test: it
would reach the user as a traceback. Inputs come from hypothesis: structured values near the
real formats, mutations of valid files, and raw bytes.

The default run tries a few dozen inputs per target (``derandomize``: the same inputs on every
run, so CI cannot flake on a new find); ``-m slow`` tries thousands, randomly, and prints how
many each target saw. Crashes found here have plain regression tests at the end of the file.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cffd_engine.analysis.result import AnalysisResult, Evidence, FrameScore, ModelInfo, TrackResult
from cffd_engine.analysis.settings import AnalysisSettings
from cffd_engine.analysis.spectrum import fallback_reference
from cffd_engine.data.adapters.celebdf import TEST_LIST, load_celebdf
from cffd_engine.data.adapters.dfdc import INDEX, load_dfdc_preview
from cffd_engine.data.adapters.faceforensics import read_splits
from cffd_engine.data.manifest import DatasetLayoutError, Manifest, ManifestEntry
from cffd_engine.errors import CFFDError, EvidenceError
from cffd_engine.media import video
from cffd_engine.media.frames import read_frames
from cffd_engine.store import BundleError, BundleManifest, ModelStore, model_card, verify_bundle, write_bundle
from cffd_engine.store.archive import export_bundle
from tests import dataset_trees, synthetic_media

QUICK = 100  # examples per target in the default run
LONG = 2500  # examples per target with -m slow
COUNTS: Counter[str] = Counter()


# Input generators ---------------------------------------------------------------------------


def json_values(max_leaves: int = 12) -> st.SearchStrategy:
    """Any JSON value, with the awkward corners: huge and negative numbers, odd strings, nesting."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=40)
        | st.sampled_from(["", "../x", "/etc/passwd", "C:\\x", "x.pkl", "\x00", "é" * 200])
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=max_leaves,
    )


def deeply_nested(min_depth: int = 1, max_depth: int = 200_000) -> st.SearchStrategy[str]:
    """JSON text nested so deep that a recursive parser runs out of stack."""
    return st.integers(min_depth, max_depth).map(lambda depth: "[" * depth + "]" * depth)


@st.composite
def mutated(draw, seed: bytes, max_ops: int = 4) -> bytes:
    """``seed`` with a few byte-level edits: flips, overwrites, insertions, deletions, a cut."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "overwrite", "insert", "delete", "cut"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(chunk)] = chunk
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "cut":
            del data[at:]
    return bytes(data)


@st.composite
def edited_dict(draw, valid: dict, values: st.SearchStrategy | None = None) -> dict:
    """``valid`` with some keys dropped, some values replaced by any JSON, and some keys added."""
    values = values if values is not None else json_values()
    data = dict(valid)
    if valid:
        for key in draw(st.lists(st.sampled_from(sorted(valid)), max_size=3, unique=True)):
            del data[key]
        for key in draw(st.lists(st.sampled_from(sorted(valid)), max_size=3, unique=True)):
            data[key] = draw(values)
    for key in draw(st.lists(st.text(max_size=10), max_size=2)):
        data[key] = draw(values)
    return data


def json_text(valid: dict | list, values: st.SearchStrategy | None = None) -> st.SearchStrategy[bytes]:
    """Bytes of a JSON file: the valid one edited, re-encoded, byte-mutated, deeply nested or random."""
    dumped = json.dumps(valid).encode()
    edited = (edited_dict(valid, values) if isinstance(valid, dict) else json_values()).map(
        lambda value: json.dumps(value).encode()
    )
    return st.one_of(
        edited,
        mutated(dumped),
        deeply_nested().map(str.encode),
        json_values().map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
    )


def fuzz(strategy: st.SearchStrategy, check: Callable, examples: int, quick: bool) -> None:
    """Run ``check`` on ``examples`` inputs drawn from ``strategy``, counting them."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=quick,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(strategy)
    def run(value):
        COUNTS[check.__name__] += 1
        check(value)

    run()


# Targets ------------------------------------------------------------------------------------


def valid_bundle_manifest() -> dict:
    return BundleManifest(
        model_config={"name": "lite", "input_size": 64},
        tasks=[{"name": "blend", "num_samples": 10, "date": "2026-01-01"}],
        metrics={
            "task_names": ["blend"],
            "accuracy": [[0.9]],
            "test": {"blend": {"accuracy": 0.8, "auc": 0.9}},
        },
        limits=["untrained"],
        files={"weights.safetensors": "0" * 64},
    ).to_dict()


def check_bundle_manifest(data) -> None:
    """A manifest dict parses into a manifest every reader can use, or is refused with BundleError."""
    try:
        manifest = BundleManifest.from_dict(data, "fuzz/manifest.json")
        # What the store, the model manager and the report read from a manifest:
        model_card(manifest)
        json.dumps(manifest.to_dict())
        assert isinstance(manifest.threshold, float) and isinstance(manifest.learnable, bool)
    except BundleError as exc:
        assert "fuzz/manifest.json" in str(exc)


def _tiny_bundle(directory: Path) -> Path:
    """A complete bundle of a few hundred bytes (a 2x2 linear layer): fast to copy, zip and verify."""
    torch.manual_seed(0)
    write_bundle(directory, torch.nn.Linear(2, 2), BundleManifest(model_config={"name": "lite"}))
    return directory


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory) -> Path:
    return _tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture(scope="module")
def tiny_archive(tiny_bundle, tmp_path_factory) -> bytes:
    return export_bundle(tiny_bundle, tmp_path_factory.mktemp("archive") / "tiny.cffd").read_bytes()


def manifest_file_checker(bundle: Path) -> Callable[[bytes], None]:
    def check_manifest_file(content: bytes) -> None:
        """manifest.json bytes of an otherwise valid bundle: verify_bundle verifies it or raises BundleError."""
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(shutil.copytree(bundle, Path(folder) / "b"))
            (copy / "manifest.json").write_bytes(content)
            try:
                check_bundle_manifest(verify_bundle(copy).to_dict())
            except BundleError as exc:
                assert str(copy) in str(exc)

    return check_manifest_file


@st.composite
def built_archives(draw, bundle: Path) -> bytes:
    """A zip built member by member: real bundle files and hostile ones, odd names, methods and flags."""
    names = st.one_of(
        st.sampled_from(
            [
                "manifest.json",
                "weights.safetensors",
                "replay/index.json",
                "replay/",
                "replay",
                "a/../b.json",
                "../up.json",
                "/abs.json",
                "C:/x.json",
                "x\\y.json",
                "x.pkl",
                "notes",
                "a//b.json",
                "./c.json",
                "manifest.json/x.json",
                "weights.safetensors/",
                "é" * 120 + ".json",
                "d" * 300 + ".json",
            ]
        ),
        st.text(min_size=1, max_size=30),
    )
    real = {p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    members = draw(st.lists(st.tuples(names, st.binary(max_size=64)), max_size=6))
    keep = draw(st.lists(st.sampled_from(sorted(real)), unique=True))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are part of the test
        for name, data in [*((k, real[k]) for k in keep), *members]:
            info = zipfile.ZipInfo(name)
            info.compress_type = draw(
                st.sampled_from(
                    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
                )
            )
            if draw(st.booleans()):
                info.external_attr = draw(st.sampled_from([0o120777, 0o040755, 0o100644, 0o010644])) << 16
            if draw(st.integers(0, 9)) == 0:
                info.flag_bits |= 0x1  # "encrypted"
            archive.writestr(info, data)
    return buffer.getvalue()


def import_checker(store: ModelStore) -> Callable[[bytes], None]:
    def check_import(content: bytes) -> None:
        """A .cffd file imports as a verified version or is refused with BundleError, store unchanged."""
        before = (store.versions(), store.active_version(), sorted(os.listdir(store.root)))
        with tempfile.TemporaryDirectory() as folder:
            archive = Path(folder) / "model.cffd"
            archive.write_bytes(content)
            try:
                imported = store.import_bundle(archive)
            except BundleError as exc:
                assert str(archive) in str(exc) or str(store.root) in str(exc)
                assert (store.versions(), store.active_version(), sorted(os.listdir(store.root))) == before
                assert os.listdir(store.staging_dir) == []
                assert os.listdir(folder) == ["model.cffd"]  # nothing unpacked beside the archive
            else:
                store.verify(imported.version)
                if imported.already_stored:  # the stored bundle's weights again: nothing added
                    assert (
                        store.versions(),
                        store.active_version(),
                        sorted(os.listdir(store.root)),
                    ) == before
                else:
                    store.delete(imported.version)

    return check_import


def valid_dataset_manifest() -> dict:
    return Manifest(
        [
            ManifestEntry("/data/a.mp4", 0, "train", "real", "ff++", "c23", "a"),
            ManifestEntry("b.mp4", 1, "test", "DF", "ff++"),
        ],
        ["note"],
    ).to_dict()


def check_dataset_manifest(content: bytes) -> None:
    """A dataset manifest file loads into entries of the right types, or raises a CFFDError naming it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "manifest.json"
        path.write_bytes(content)
        try:
            manifest = Manifest.load(path)
        except CFFDError as exc:
            assert str(path) in str(exc)
            return
        manifest.summary()
        manifest.filter("ff++/c23/DF")
        for entry in manifest:
            assert isinstance(entry.path, str) and entry.label in (0, 1) and isinstance(entry.split, str)


def ffpp_split_checker(root: Path) -> Callable[[tuple[bytes, bytes, bytes]], None]:
    def check_ffpp_splits(contents: tuple[bytes, bytes, bytes]) -> None:
        """FF++ train/val/test.json: a mapping of ids to splits, or DatasetLayoutError naming the root."""
        for split, content in zip(("train", "val", "test"), contents, strict=True):
            (root / "splits" / f"{split}.json").write_bytes(content)
        try:
            split_of = read_splits(root)
        except DatasetLayoutError as exc:
            assert str(root) in str(exc)
            return
        assert all(isinstance(k, str) and v in ("train", "val", "test") for k, v in split_of.items())

    return check_ffpp_splits


def celebdf_checker(root: Path) -> Callable[[bytes], None]:
    def check_celebdf_list(content: bytes) -> None:
        """Celeb-DF's List_of_testing_videos.txt: a manifest, or DatasetLayoutError naming the root."""
        (root / TEST_LIST).write_bytes(content)
        try:
            manifest = load_celebdf(root)
        except DatasetLayoutError as exc:
            assert str(root) in str(exc)
            return
        assert all(Path(e.path).is_relative_to(root) for e in manifest)

    return check_celebdf_list


def dfdc_checker(root: Path) -> Callable[[bytes], None]:
    def check_dfdc_index(content: bytes) -> None:
        """DFDC's dataset.json: a manifest of files inside the root, or DatasetLayoutError naming the root."""
        (root / INDEX).write_bytes(content)
        try:
            manifest = load_dfdc_preview(root)
        except DatasetLayoutError as exc:
            assert str(root) in str(exc)
            return
        for entry in manifest:
            assert Path(entry.path).resolve().is_relative_to(root.resolve()), entry.path

    return check_dfdc_index


@st.composite
def dfdc_values(draw) -> bytes:
    """dataset.json: the real index plus entries with hostile keys (outside the root, too long, odd) or values."""
    keys = st.one_of(
        st.sampled_from(
            ["../outside.mp4", "/etc/hostname", "x" * 300 + ".mp4", "a/\x00.mp4", "original_videos"]
        ),
        st.text(max_size=20),
    )
    valid = st.fixed_dictionaries(
        {"label": st.sampled_from(["real", "fake", "FAKE"]), "set": st.sampled_from(["train", "test", "val"])}
    )
    odd = st.fixed_dictionaries(
        {"label": st.sampled_from(["real", "x"]) | json_values(3)},
        optional={"set": st.sampled_from(["train", "test"]) | json_values(3), "extra": json_values(3)},
    )
    index = dict(dataset_trees.DFDC_INDEX)
    index.update(draw(st.dictionaries(keys, valid | odd | json_values(3), min_size=1, max_size=3)))
    return json.dumps(index).encode()


def valid_result() -> dict:
    settings_ = AnalysisSettings()
    model = ModelInfo(
        "v1",
        "v1",
        "/store/versions/v1",
        "0" * 64,
        "lite",
        64,
        0.5,
        {"method": "none"},
        ["blend"],
        [],
        "card",
        "2026-01-01",
        "0.1",
        fallback_reference(),
    )
    score = FrameScore(0, 0.0, 0, [1.0, 2.0, 3.0, 4.0], 0.9, 0.7, [0.25] * 4)
    track = TrackResult(
        0,
        1,
        0,
        0,
        0.0,
        0.0,
        0.7,
        1,
        0.0,
        0.0,
        0.7,
        0.7,
        0.7,
        1.0,
        [0.25] * 4,
        "LIKELY_MANIPULATED",
        True,
        80.0,
        [score],
    )
    result = AnalysisResult(
        Evidence("/case/a.mp4", "a.mp4", 10, "0" * 64, "0" * 32, "2026-01-01"),
        model,
        settings_,
        "LIKELY_MANIPULATED",
        "rule",
        0.5,
        "2026-01-01",
        "2026-01-01",
        "cffd analyze a.mp4",
        tracks=[track],
    )
    return json.loads(json.dumps(result.to_dict()))


@st.composite
def edited_results(draw) -> dict:
    """A real result's JSON with fields dropped or replaced at the top and one level down."""
    data = draw(edited_dict(valid_result()))
    for key in ("evidence", "model", "settings"):
        if isinstance(data.get(key), dict) and draw(st.booleans()):
            data[key] = draw(edited_dict(data[key]))
    if isinstance(data.get("tracks"), list) and data["tracks"] and isinstance(data["tracks"][0], dict):
        data["tracks"] = [draw(edited_dict(data["tracks"][0]))]
    return data


def check_report_result(data) -> None:
    """A report's result JSON reads back into an AnalysisResult, or raises ValueError (its documented error)."""
    try:
        result = AnalysisResult.from_dict(data)
    except ValueError:
        return
    assert isinstance(result, AnalysisResult)


def image_seeds() -> list[bytes]:
    """Valid images of every kind OpenCV decodes, whatever the file is named: 8/16-bit, float, signed."""
    rgb = synthetic_media.drifting_portrait_frames(1, size=(48, 40), face_height=40)[0]
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    unit = bgr.astype(np.float32) / 255
    return [
        cv2.imencode(".png", bgr)[1].tobytes(),
        cv2.imencode(".jpg", bgr)[1].tobytes(),
        cv2.imencode(".png", bgr.astype(np.uint16) * 257)[1].tobytes(),
        cv2.imencode(".png", np.dstack([bgr, grey]))[1].tobytes(),
        cv2.imencode(".jpg", grey)[1].tobytes(),
        cv2.imencode(".bmp", bgr)[1].tobytes(),
        cv2.imencode(".webp", bgr)[1].tobytes(),
        cv2.imencode(".ppm", bgr)[1].tobytes(),
        cv2.imencode(".tiff", bgr)[1].tobytes(),
        cv2.imencode(".tiff", unit)[1].tobytes(),
        cv2.imencode(".tiff", unit.astype(np.float64))[1].tobytes(),
        cv2.imencode(".tiff", (bgr // 2).astype(np.int8))[1].tobytes(),
        cv2.imencode(".hdr", unit)[1].tobytes(),
        cv2.imencode(".pfm", unit)[1].tobytes(),
    ]


def check_image(content: bytes) -> None:
    """Bytes in a .png file: read_image gives RGB uint8 (H x W x 3) or raises EvidenceError naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "evidence.png"
        path.write_bytes(content)
        try:
            rgb = video.read_image(path)
        except EvidenceError as exc:
            assert str(path) in str(exc)
            return
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, (rgb.dtype, rgb.shape)


def check_video(content: bytes) -> None:
    """Bytes in a .mp4 file: probe and the frame reader succeed or raise EvidenceError naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "evidence.mp4"
        path.write_bytes(content)
        try:
            info = video.probe(path)
            frames, _ = read_frames(path, max_frames=4)
        except EvidenceError as exc:
            assert str(path) in str(exc)
            return
        assert info.kind == "video" and all(f.rgb.dtype == np.uint8 and f.rgb.shape[2] == 3 for f in frames)


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> bytes:
    frames = synthetic_media.drifting_portrait_frames(6, size=(64, 48), face_height=40)
    return synthetic_media.write_video_av(
        tmp_path_factory.mktemp("video") / "v.mp4", frames, keyframe_interval=3
    ).read_bytes()


# The targets, each with its strategy --------------------------------------------------------


@pytest.fixture(autouse=True)
def quiet_opencv():
    """OpenCV logs every undecodable image on stderr; thousands of such lines would bury the report."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    yield
    cv2.utils.logging.setLogLevel(level)


@pytest.fixture
def targets(
    tmp_path, tiny_bundle, tiny_archive, small_video
) -> dict[str, tuple[st.SearchStrategy, Callable]]:
    """Each target's input strategy and check, with the folders it works in."""
    ffpp = dataset_trees.ffpp_tree(tmp_path / "ffpp", methods=("Deepfakes",))
    celeb = dataset_trees.celebdf_tree(tmp_path / "celeb")
    dfdc = dataset_trees.dfdc_tree(tmp_path / "dfdc")
    store = ModelStore(tmp_path / "store")
    store.activate(store.import_bundle(tiny_bundle).version)
    pairs = dataset_trees.FFPP_PAIRS
    celeb_list = ("\n".join(dataset_trees.CELEB_TEST_LIST) + "\n").encode()
    return {
        "bundle-manifest-dict": (
            st.one_of(edited_dict(valid_bundle_manifest()), json_values()),
            check_bundle_manifest,
        ),
        "bundle-manifest-file": (
            json_text(json.loads((tiny_bundle / "manifest.json").read_text())),
            manifest_file_checker(tiny_bundle),
        ),
        "cffd-import": (
            st.one_of(mutated(tiny_archive, max_ops=3), built_archives(tiny_bundle), st.binary(max_size=300)),
            import_checker(store),
        ),
        "dataset-manifest": (json_text(valid_dataset_manifest()), check_dataset_manifest),
        "ffpp-splits": (
            st.tuples(*(json_text(pairs[split]) for split in ("train", "val", "test"))),
            ffpp_split_checker(ffpp),
        ),
        "celebdf-test-list": (
            st.one_of(
                mutated(celeb_list),
                st.lists(st.text(max_size=30), max_size=5).map(lambda lines: "\n".join(lines).encode()),
                st.binary(max_size=100),
            ),
            celebdf_checker(celeb),
        ),
        "dfdc-index": (
            st.one_of(dfdc_values(), json_text(dataset_trees.DFDC_INDEX)),
            dfdc_checker(dfdc),
        ),
        "report-result": (st.one_of(edited_results(), json_values()), check_report_result),
        "image-bytes": (
            st.one_of(st.sampled_from(image_seeds()).flatmap(mutated), st.binary(max_size=200)),
            check_image,
        ),
        "video-bytes": (st.one_of(mutated(small_video), st.binary(max_size=200)), check_video),
    }


TARGETS = [
    "bundle-manifest-dict",
    "bundle-manifest-file",
    "cffd-import",
    "dataset-manifest",
    "ffpp-splits",
    "celebdf-test-list",
    "dfdc-index",
    "report-result",
    "image-bytes",
    "video-bytes",
]


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz(target, targets):
    strategy, check = targets[target]
    fuzz(strategy, check, QUICK, quick=True)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_long(target, targets, capsys):
    strategy, check = targets[target]
    COUNTS[check.__name__] = 0
    fuzz(strategy, check, LONG, quick=False)
    with capsys.disabled():
        print(f"\nfuzz {target}: {COUNTS[check.__name__]} inputs tried")


# Regression tests: each crash the fuzzers found, with its exact input --------------------------

DEEP = "[" * 100_000 + "]" * 100_000  # found at depth 1988: json.loads raised RecursionError


def test_deeply_nested_bundle_manifest_is_refused(tiny_bundle, tmp_path):
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "b"))
    (bundle / "manifest.json").write_text(DEEP)
    with pytest.raises(BundleError, match="the manifest is not valid JSON"):
        verify_bundle(bundle)


def test_deeply_nested_split_files_are_layout_errors(tmp_path):
    ffpp = dataset_trees.ffpp_tree(tmp_path / "ffpp", methods=("Deepfakes",))
    (ffpp / "splits" / "train.json").write_text(DEEP)
    with pytest.raises(DatasetLayoutError, match="train.json: a JSON list of"):
        read_splits(ffpp)
    dfdc = dataset_trees.dfdc_tree(tmp_path / "dfdc")
    (dfdc / INDEX).write_text(DEEP)
    with pytest.raises(DatasetLayoutError, match="dataset.json as a JSON object"):
        load_dfdc_preview(dfdc)


def test_celebdf_test_list_that_is_not_utf8_is_a_layout_error(tmp_path):
    celeb = dataset_trees.celebdf_tree(tmp_path / "celeb")
    (celeb / TEST_LIST).write_bytes(b"\x80")
    with pytest.raises(DatasetLayoutError, match="List_of_testing_videos.txt as UTF-8 text"):
        load_celebdf(celeb)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x80",
        b"[]",
        b'{#version": 1}',
        b'{"entries": null}',
        b'{"entries": [{"path": 1}]}',
        DEEP.encode(),
    ],
    ids=["empty", "not-utf8", "list", "broken-json", "entries-null", "entry-wrong-types", "deep"],
)
def test_a_broken_dataset_manifest_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    with pytest.raises(CFFDError, match="not a dataset manifest") as caught:
        Manifest.load(path)
    assert str(path) in str(caught.value)


def test_dfdc_index_with_a_name_too_long_or_outside_the_root(tmp_path):
    dfdc = dataset_trees.dfdc_tree(tmp_path / "dfdc")
    index = dict(dataset_trees.DFDC_INDEX)
    index["x" * 300 + ".mp4"] = {"label": "fake", "set": "train"}  # was OSError: File name too long
    (dfdc / INDEX).write_text(json.dumps(index))
    assert "1 video(s) listed in dataset.json are not on disk" in load_dfdc_preview(dfdc).notes[0]
    for outside in ("/etc/hostname", "../../outside.mp4"):  # was: an entry for a file outside the dataset
        (dfdc / INDEX).write_text(
            json.dumps({**dataset_trees.DFDC_INDEX, outside: {"label": "real", "set": "test"}})
        )
        with pytest.raises(DatasetLayoutError, match="names a file outside the dataset folder"):
            load_dfdc_preview(dfdc)


@pytest.mark.parametrize(
    "data",
    [{}, None, [], {"evidence": 5}],
    ids=["empty", "null", "list", "evidence-not-object"],
)
def test_a_broken_report_result_raises_value_error(data):
    with pytest.raises(ValueError, match="not an analysis result"):
        AnalysisResult.from_dict(data)


def test_a_report_track_missing_a_field_raises_value_error():
    data = valid_result()
    del data["tracks"][0]["counts_for_video"]  # was TypeError: missing 1 required positional argument
    with pytest.raises(ValueError, match="counts_for_video"):
        AnalysisResult.from_dict(data)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("contents", None, "'contents' must be an object"),  # was AttributeError in .learnable
        ("decision", {"threshold": "high"}, "'decision.threshold' must be a number"),
        ("metrics", {"accuracy": [[10**400]]}, "'metrics.accuracy'"),  # OverflowError in the model card
        ("tasks", [None], "'tasks' must be a list of objects"),
    ],
)
def test_manifest_fields_of_the_wrong_type_are_refused(field, value, problem):
    data = {**valid_bundle_manifest(), field: value}
    with pytest.raises(BundleError, match=problem):
        BundleManifest.from_dict(data, "fuzz/manifest.json")


def _patch(data: bytes, signature: bytes, offset: int, value: bytes, occurrence: int = 0) -> bytes:
    """``data`` with ``value`` written ``offset`` bytes after the ``occurrence``-th ``signature``."""
    at = -1
    for _ in range(occurrence + 1):
        at = data.index(signature, at + 1)
    patched = bytearray(data)
    patched[at + offset : at + offset + len(value)] = value
    return bytes(patched)


def _long_name_archive(archive: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("d" * 300 + ".json", b"{}")  # was OSError: File name too long
    return buffer.getvalue()


ARCHIVE_CRASHES = {
    # local header's name differs from the directory's: BadZipFile while reading
    "header-name-differs": lambda a: _patch(a, b"manifest.json", 0, b"manifest.jsoN"),
    "bad-local-magic": lambda a: _patch(a, b"PK\x03\x04", 0, b"QK"),  # BadZipFile
    "deflate-stream-broken": lambda a: _patch(
        a, b"PK\x03\x04", 30 + len("manifest.json"), b"\xff\xff"
    ),  # zlib.error
    "needs-zip-version-8.4": lambda a: _patch(a, b"PK\x01\x02", 6, b"\x54"),  # NotImplementedError on open
    "encrypted-member": lambda a: _patch(a, b"PK\x01\x02", 8, b"\x01"),  # RuntimeError: password required
    "member-name-too-long": _long_name_archive,
}


@pytest.mark.parametrize("case", list(ARCHIVE_CRASHES))
def test_damaged_archives_are_refused_with_bundle_error(case, tiny_bundle, tiny_archive, tmp_path):
    store = ModelStore(tmp_path / "store")
    store.activate(store.import_bundle(tiny_bundle).version)
    archive = tmp_path / "model.cffd"
    archive.write_bytes(ARCHIVE_CRASHES[case](tiny_archive))
    with pytest.raises(BundleError, match=str(archive)):
        store.import_bundle(archive)
    assert store.versions() == ["v1"] and list(store.staging_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("kind", "image"),
    [
        (".tiff", np.ones((8, 8, 3), np.float32)),  # float32 pixels came back as float32 "RGB"
        (".tiff", np.ones((8, 8, 3), np.float64)),  # was cv2.error: unsupported depth CV_64F
        (".tiff", np.ones((8, 8, 3), np.int8)),  # was cv2.error: unsupported depth CV_8S
        (".hdr", np.ones((8, 8, 3), np.float32)),
    ],
    ids=["tiff-float32", "tiff-float64", "tiff-int8", "radiance-hdr"],
)
def test_images_that_are_not_8_or_16_bit_are_refused(tmp_path, kind, image):
    path = tmp_path / "evidence.png"  # named as a PNG: the content decides what OpenCV decodes
    path.write_bytes(cv2.imencode(kind, image)[1].tobytes())
    with pytest.raises(EvidenceError, match="pixels in 3 channel") as caught:
        video.read_image(path)
    assert str(path) in str(caught.value)


def test_an_archive_member_without_a_name_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"")  # was IndexError in ZipInfo.is_dir()
    store = ModelStore(tmp_path / "store")
    (tmp_path / "model.cffd").write_bytes(buffer.getvalue())
    with pytest.raises(BundleError, match="a member has no name"):
        store.import_bundle(tmp_path / "model.cffd")


def test_a_video_whose_tags_are_not_utf8_is_still_read(small_video, tmp_path):
    path = tmp_path / "evidence.mp4"
    path.write_bytes(small_video.replace(b"ftypisom", b"ftyp\xe9som", 1))  # major_brand tag: invalid UTF-8
    frames, status = read_frames(path)  # was UnicodeDecodeError from av.open
    assert len(frames) == 6 and status.complete
    assert video.read_first_frame(path).shape == (48, 64, 3)


def test_an_image_whose_header_opencv_rejects_is_an_evidence_error(tmp_path):
    pfm = cv2.imencode(".pfm", np.ones((40, 48, 3), np.float32))[1].tobytes()
    path = tmp_path / "evidence.png"
    path.write_bytes(pfm.replace(b"PF\n48 40", b"PF\n<8 40", 1))  # was cv2.error from cv2.imdecode
    with pytest.raises(EvidenceError, match="the image cannot be decoded") as caught:
        video.read_image(path)
    assert str(path) in str(caught.value)
