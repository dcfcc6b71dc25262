"""Soak: a batch of short videos through ``cffd analyze`` in one process, the process measured after each video.

``cffd analyze`` keeps every result until the report is written (the report needs their
key-frame pictures), so its resident set grows with the batch by design: about 0.6 MB a
320x240 clip. So memory is checked twice: on the command itself, beyond what its results
hold, and on the same per-file loop with each result dropped once its line is printed,
where any growth is a leak. Threads and open descriptors must come back to what they were before.
Each curve is printed and written as JSON under the test's tmp folder (path printed).
"""

from __future__ import annotations

import json
import threading

import pytest
import torch

import cffd_engine.analysis.analyzer as analyzer_module
from cffd_engine.analysis import AnalysisSettings, Analyzer, analyze_safely, load_analysis_model
from cffd_engine.cli.analyze import main, result_line
from cffd_engine.jobs import JobControl
from cffd_engine.model import RSIANet
from cffd_engine.store import BundleManifest, write_bundle
from tests.engine.continual_fixtures import tiny_config
from tests.soak import ProcessRecord, open_fds, os_threads, write_batch

# Measured over the 180 videos after the warm-up on the 2-core machine under load. A leak of
# one 320x240 frame per video (225 KiB) adds 40 MB over those videos and fails each bound.
# The per-file loop with nothing kept: the resident set grew 0.03 MB.
LOOP_GROWTH_MB = 25
# The command, beyond the bytes its kept results hold: the C heap in use grew 1 MB, the
# resident set 22 MB (freed frames' pages that glibc keeps among the kept pictures).
COMMAND_HEAP_GROWTH_MB = 20
COMMAND_RSS_GROWTH_MB = 40


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """An untrained tiny RSIA-Net (32 px): the soak is about the pipeline, not the verdicts."""
    torch.manual_seed(0)
    model = RSIANet(tiny_config())
    directory = tmp_path_factory.mktemp("soak-model") / "bundle"
    write_bundle(directory, model, BundleManifest(model_config=model.config.to_dict()))
    return directory


def analyze(paths, bundle, report) -> int:
    return main(
        [*map(str, paths), "--model", str(bundle), "--json", str(report), "--threads", "1", "--quiet"]
    )


@pytest.mark.parametrize(
    "count, warm_up",
    # The warm-up reaches past clip 9, the first face-less one: there the analysis starts the
    # full-range detector that large frames without a face are searched with again (once, with its threads).
    [pytest.param(20, 10, id="20-videos"), pytest.param(200, 20, id="200-videos", marks=pytest.mark.slow)],
)
def test_cffd_analyze_over_a_long_batch_leaks_no_memory_threads_or_descriptors(
    count, warm_up, bundle, tmp_path, monkeypatch, capsys
):
    paths = write_batch(tmp_path / "videos", count)
    # torch and mediapipe make their native thread pools lazily over the first two runs
    # (measured: 4, then 7, then 8 threads, then 8 for good): warm up twice, then count.
    for run in range(2):
        analyze(paths[:2], bundle, tmp_path / f"warm-up-{run}.json")
    python_threads, threads, fds = set(threading.enumerate()), os_threads(), open_fds()

    record = ProcessRecord(warm_up)

    def analyze_and_sample(analyzer, path, job=None):
        result = analyze_safely(analyzer, path, job)
        record.sample(result)
        return result

    monkeypatch.setattr(analyzer_module, "analyze_safely", analyze_and_sample)
    code = analyze(paths, bundle, tmp_path / "report.json")
    capsys.readouterr()

    damaged = sum(1 for i in range(count) if i % 25 == 12)
    assert code == (1 if damaged else 0)
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["results"]) == len(record.samples) == count
    with capsys.disabled():
        record.write(tmp_path / f"soak-engine-{count}.json", threads_before=threads, fds_before=len(fds))
    after = record.after_warm_up
    if after[0].heap_mb is not None:  # glibc 2.33 or later
        assert record.unexplained_growth_mb("heap_mb") <= COMMAND_HEAP_GROWTH_MB, record.summary()
    assert record.unexplained_growth_mb() <= COMMAND_RSS_GROWTH_MB, record.summary()
    # A decoder's native thread may still be ending when a sample is taken: allow one or two.
    assert max(s.os_threads for s in after) - min(s.os_threads for s in after) <= 2
    assert len({s.python_threads for s in after}) == 1
    assert len({s.fds for s in after}) == 1, "open descriptors changed during the batch"
    assert set(threading.enumerate()) <= python_threads
    assert os_threads() == threads
    assert open_fds() == fds


@pytest.mark.slow
def test_the_per_file_loop_of_cffd_analyze_holds_its_memory_flat(bundle, tmp_path, capsys):
    paths = write_batch(tmp_path / "videos", 200)
    model, info = load_analysis_model(str(bundle))
    record = ProcessRecord(warm_up=20)
    with Analyzer(AnalysisSettings(cpu_threads=1), model, info) as analyzer:  # what `--threads 1` sets
        for path in paths:
            result_line(analyze_safely(analyzer, path, JobControl()))
            record.sample()
    with capsys.disabled():
        record.write(tmp_path / "soak-engine-loop-200.json")
    after = record.after_warm_up
    assert record.growth_mb() <= LOOP_GROWTH_MB, record.summary()
    assert max(s.os_threads for s in after) - min(s.os_threads for s in after) <= 2
    assert len({s.python_threads for s in after}) == 1
    assert len({s.fds for s in after}) == 1, "open descriptors changed during the batch"
