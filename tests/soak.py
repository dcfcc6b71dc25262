"""What the soak tests need: a batch of short real-face videos and a record of the process after each one.

Memory is the resident set from ``/proc/self/statm`` (no psutil), and the bytes the C heap has
handed out and not had back (glibc's ``mallinfo2``): the resident set also holds freed memory the
allocator keeps (fragmentation), the heap figure only what is still in use, so a leak shows in
both and fragmentation in the first only. Threads are counted twice,
as Python sees them (``threading.active_count``) and as the kernel does (``/proc/self/task``,
which includes the native threads of torch, mediapipe and Qt); descriptors are the entries of
``/proc/self/fd``. Linux only, like the soaks.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tests import synthetic_media as sm

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1 << 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
    ]


def _mallinfo2():
    try:
        function = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):  # not glibc, or glibc older than 2.33
        return None
    function.restype = _MallInfo2
    return function


_MALLINFO2 = _mallinfo2()


def heap_in_use_bytes() -> int | None:
    """Bytes malloc has handed out and not had back (arenas and mmapped blocks); None without glibc 2.33."""
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return info.uordblks + info.hblkhd


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> dict[int, str]:
    """Open descriptor -> what it points at (a path, ``pipe:[...]``, ``anon_inode:...``)."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the descriptor listdir itself used, closed by now
            pass
    return fds


_NOT_DATA = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def retained_bytes(obj: object, seen: set[int]) -> int:
    """Bytes of every object reachable from ``obj`` not in ``seen`` (then added to it): what a kept result costs.

    Shared objects (the settings, the model information) are counted once over all calls
    with the same ``seen``; classes, modules and functions are not data and are skipped. An
    array that owns its pixels counts them (``ndarray.__sizeof__`` does).
    """
    total = 0
    stack = [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, _NOT_DATA):
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        stack.extend(gc.get_referents(item))
    return total


def write_batch(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` short 320x240 clips of the real portrait: 10-15 frames, drifting at different sizes.

    Every 10th clip is a face-less wall (a NOT APPLICABLE result) and one in 25 is cut in half
    (unreadable: the moov atom is at the end), so the soak passes through every ending a file can have.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        path = folder / f"clip{index:04d}.mp4"
        frames = int(rng.integers(10, 16))
        if index % 10 == 9:
            sm.write_video(path, [np.full((240, 320, 3), 40 + 12 * i, np.uint8) for i in range(frames)])
        else:
            clip = sm.drifting_portrait_frames(
                frames,
                face_height=int(rng.integers(150, 241)),
                phase=float(rng.uniform(0, 6.3)),
                amplitude=float(rng.uniform(5, 30)),
            )
            sm.write_video(path, clip)
        if index % 25 == 12:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        paths.append(path)
    return paths


@dataclass
class Sample:
    video: int
    seconds: float
    rss_mb: float
    heap_mb: float | None
    retained_mb: float  # what the kept results hold (the command and the queue keep them by design)
    python_threads: int
    os_threads: int
    fds: int


@dataclass
class ProcessRecord:
    """One sample after each video; ``growth`` and ``unexplained_growth`` are measured from ``warm_up``."""

    warm_up: int
    samples: list[Sample] = field(default_factory=list)
    _seen: set[int] = field(default_factory=set, repr=False)
    _retained: int = 0
    _started: float = field(default_factory=time.perf_counter, repr=False)

    def sample(self, result: object | None = None) -> Sample:
        if result is not None:
            self._retained += retained_bytes(result, self._seen)
        sample = Sample(
            video=len(self.samples) + 1,
            seconds=round(time.perf_counter() - self._started, 2),
            rss_mb=round(rss_bytes() / MB, 2),
            heap_mb=None if (heap := heap_in_use_bytes()) is None else round(heap / MB, 2),
            retained_mb=round(self._retained / MB, 2),
            python_threads=threading.active_count(),
            os_threads=os_threads(),
            fds=len(open_fds()),
        )
        self.samples.append(sample)
        return sample

    @property
    def after_warm_up(self) -> list[Sample]:
        return self.samples[self.warm_up - 1 :]

    def growth_mb(self) -> float:
        """Largest rise of the resident set above its value at the end of the warm-up."""
        first = self.after_warm_up[0]
        return max(s.rss_mb - first.rss_mb for s in self.after_warm_up)

    def unexplained_growth_mb(self, measure: str = "rss_mb") -> float:
        """Largest rise of ``measure`` (``rss_mb`` or ``heap_mb``) beyond what the results kept since the warm-up hold."""
        first = self.after_warm_up[0]
        return max(
            (getattr(s, measure) - getattr(first, measure)) - (s.retained_mb - first.retained_mb)
            for s in self.after_warm_up
        )

    def summary(self) -> dict:
        after = self.after_warm_up
        return {
            "videos": len(self.samples),
            "warm_up": self.warm_up,
            "seconds": self.samples[-1].seconds,
            "rss_mb_after_warm_up": after[0].rss_mb,
            "rss_mb_last": self.samples[-1].rss_mb,
            "rss_mb_max": max(s.rss_mb for s in self.samples),
            "growth_mb_after_warm_up": round(self.growth_mb(), 2),
            "retained_mb_after_warm_up": round(after[-1].retained_mb - after[0].retained_mb, 2),
            "unexplained_growth_mb": round(self.unexplained_growth_mb(), 2),
            "heap_mb_after_warm_up": after[0].heap_mb,
            "unexplained_heap_growth_mb": (
                None if after[0].heap_mb is None else round(self.unexplained_growth_mb("heap_mb"), 2)
            ),
            "python_threads": sorted({s.python_threads for s in after}),
            "os_threads": sorted({s.os_threads for s in after}),
            "fds": sorted({s.fds for s in after}),
        }

    def write(self, path: Path, **extra) -> Path:
        """The curve as JSON (summary + every sample), and printed: figures for the README."""
        data = {"summary": {**self.summary(), **extra}, "samples": [asdict(s) for s in self.samples]}
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        step = max(1, len(self.samples) // 20)
        print(f"\nmemory curve: {path}")
        print("video  seconds  rss_mb  heap_mb  retained_mb  py_threads  os_threads  fds")
        for s in self.samples:
            if s.video % step == 0 or s.video in (1, self.warm_up, len(self.samples)):
                print(
                    f"{s.video:5d}  {s.seconds:7.1f}  {s.rss_mb:6.1f}  {s.heap_mb or 0:7.1f}  {s.retained_mb:11.1f}  "
                    f"{s.python_threads:10d}  {s.os_threads:10d}  {s.fds:3d}"
                )
        print("summary:", json.dumps(data["summary"]))
        return path
