"""The engine's device set-up: what it leaves out of memory on a machine without a GPU."""

from __future__ import annotations

import ctypes
import sys

import numpy as np
import pytest
import torch

from cffd_engine import allocator
from cffd_engine.model import device as device_module

PAGE = 4096
TOUCHED_PAGES = 2048  # 8 MiB


def resident_kib(start: int) -> tuple[int, int]:
    """How much of the mapping that begins at ``start`` is resident, from /proc/self/smaps: (mapped by this
    process alone, mapped by another process too). Only the first are pages this process can hand back."""
    counts: dict[str, int] | None = None
    with open("/proc/self/smaps", encoding="utf-8") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and ":" not in fields[0]:
                if counts is not None:
                    break
                if int(fields[0].split("-")[0], 16) == start:
                    counts = {}
            elif counts is not None and fields[0] in ("Private_Clean:", "Shared_Clean:"):
                counts[fields[0]] = int(fields[1])
    if counts is None:
        raise AssertionError(f"no mapping at {start:#x}")
    return counts["Private_Clean:"], counts["Shared_Clean:"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's /proc and madvise")
@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the CUDA libraries are kept")
def test_cuda_libraries_pages_are_handed_back_and_torch_still_computes():
    mappings = [m for m in device_module.cuda_library_mappings() if m[2].startswith("r")]  # readable
    if not mappings:
        pytest.skip("this torch build loads no CUDA libraries")
    start, end, _, path = max(mappings, key=lambda m: m[1] - m[0])
    length = min(end - start, TOUCHED_PAGES * PAGE)
    # Read one byte of each page, as CUDA's start-up does, so that they are resident again. Pages that
    # another process maps too (another torch running now) stay: the kernel hands back only our own.
    for address in range(start, start + length, PAGE):
        ctypes.string_at(address, 1)
    before, shared = resident_kib(start)
    if before < length // 1024 // 2 <= shared:
        pytest.skip(f"{path}: another process (a torch running beside the tests) maps the pages too")
    assert before >= length // 1024 // 2, f"{path}: only {before} KiB resident after reading {length} bytes"

    assert device_module.release_cuda_libraries_without_cuda() >= 1
    after, _ = resident_kib(start)
    assert after <= before // 4, f"{path}: {before} KiB resident before, {after} KiB after"

    a, b = np.random.default_rng(0).standard_normal((2, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(
        (torch.from_numpy(a) @ torch.from_numpy(b)).numpy(), a @ b, rtol=1e-4, atol=1e-4
    )


def test_with_a_gpu_or_off_linux_nothing_is_released(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_module.release_cuda_libraries_without_cuda() == 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(sys, "platform", "win32")
    assert device_module.release_cuda_libraries_without_cuda() == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU triton stays available")
def test_importing_a_bundle_first_thing_loads_no_triton(tmp_path):
    """The window's first act is to install the shipped default: that import must not bring in triton (a GPU
    compiler, 70 MB resident) through timm, torchvision and torch._dynamo before the engine can keep it out."""
    import importlib.metadata
    import subprocess

    try:
        importlib.metadata.distribution("triton")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("triton is not installed here")
    code = (
        "import sys\n"
        "from cffd_engine.store import DEFAULT_BUNDLE, ModelStore\n"
        f"ModelStore({str(tmp_path / 'store')!r}).import_bundle(DEFAULT_BUNDLE)\n"
        "print('timm' in sys.modules, sys.modules.get('triton') is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["True", "False"]


def resident_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def allocate_and_free(mib: int = 256) -> float:
    """Resident memory after ``mib`` MiB were written and freed, less what was resident before."""
    before = resident_mib()
    block = torch.ones(mib * 2**18)  # float32: every page written
    del block
    return resident_mib() - before


def page_faults(rounds: int) -> int:
    """The pages faulted in while ``allocate_and_free`` runs ``rounds`` times."""
    import resource  # POSIX only

    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        allocate_and_free()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start


glibc_only = pytest.mark.skipif(allocator._glibc() is None, reason="glibc's allocator only")


def kept_memory_figures() -> dict[str, float]:
    """Run in a fresh process, whose heaps hold no large free block that earlier tests left."""
    figures = {"outside": allocate_and_free(), "faults_outside": page_faults(4)}
    with allocator.freed_memory_kept():
        figures["inside"] = allocate_and_free()
        figures["faults_inside"] = page_faults(4)
        kept = resident_mib()
    figures["given_back"] = kept - resident_mib()
    return figures


@glibc_only
def test_freed_memory_is_kept_for_the_next_step_inside_and_given_back_after():
    import json
    import subprocess

    code = "import json\nfrom tests.engine.test_device import kept_memory_figures\nprint(json.dumps(kept_memory_figures()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["outside"] < 64, figures  # glibc maps so large a block alone, and unmaps it when freed
    assert figures["inside"] > 200, figures
    # The next steps reuse what was kept (another thread's allocation may split it once).
    assert figures["faults_inside"] < figures["faults_outside"] / 2, figures
    assert figures["given_back"] > 200, figures


def test_the_windows_policy_is_back_after_training(monkeypatch):
    """The window hands blocks of 1 MiB or more back (its memory goal); a wizard update must not end that.

    glibc cannot be asked for its thresholds, so a stand-in records what is set."""

    class RecordingLibc:
        def __init__(self):
            self.thresholds: dict[int, int] = {}
            self.trimmed = 0

        def mallopt(self, parameter: int, value: int) -> int:
            assert -(2**31) <= value < 2**31  # a C int
            self.thresholds[parameter] = value
            return 1

        def malloc_trim(self, pad: int) -> int:
            self.trimmed += 1
            return 1

    libc = RecordingLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    monkeypatch.setattr(allocator, "_mmap_threshold", None)
    mmap, trim = allocator._M_MMAP_THRESHOLD, allocator._M_TRIM_THRESHOLD
    with allocator.freed_memory_kept():
        assert libc.thresholds == {mmap: 2**30, trim: 2**31 - 1}
    assert libc.thresholds == {mmap: 32 << 20, trim: 64 << 20} and libc.trimmed == 1  # glibc's settled
    allocator.hand_large_blocks_back()
    assert libc.thresholds == {mmap: 1 << 20, trim: 2 << 20}
    with allocator.freed_memory_kept():
        assert libc.thresholds[mmap] == 2**30
    assert libc.thresholds == {mmap: 1 << 20, trim: 2 << 20} and libc.trimmed == 2  # the window's again
