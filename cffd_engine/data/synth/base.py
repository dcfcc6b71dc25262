"""What every forgery family shares: the face it works on, its result, and the compression after it.

A family is two functions: ``sample(rng, face, donor) -> params`` draws the
random choices (JSON-serialisable, sizes in inter-ocular distances), and
``apply(face, params, donor) -> Forgery`` is deterministic given them, so a
video can reuse one draw on every frame. ``fade(params, s)`` weakens a draw
towards the identity (s = 0) for smooth starts and ends of a manipulated segment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from cffd_engine.data.synth import geometry as geo

Params = dict[str, Any]


@dataclass(frozen=True)
class Face:
    """One face to manipulate: an RGB uint8 image and its (478, 3) landmarks in that image's pixels."""

    image: np.ndarray
    landmarks: np.ndarray
    name: str = ""


@dataclass
class Forgery:
    """A manipulated image, the soft mask (float32 in [0, 1]) outside which it equals the input, and its parameters."""

    image: np.ndarray
    mask: np.ndarray
    params: Params
    family: str


@dataclass(frozen=True)
class Family:
    """A manipulation family: draw parameters, apply them, and weaken them for fades."""

    name: str
    imitates: str
    needs_donor: bool
    sample: Callable[[np.random.Generator, Face, Face | None], Params]
    apply: Callable[[Face, Params, Face | None], Forgery]
    fade: Callable[[Params, float], Params]

    def __call__(self, face: Face, rng: np.random.Generator, donor: Face | None = None) -> Forgery:
        """Draw parameters with ``rng`` and apply them to ``face``."""
        if self.needs_donor and donor is None:
            raise ValueError(f"the {self.name!r} family needs a donor face")
        return self.apply(face, self.sample(rng, face, donor), donor)


@dataclass(frozen=True)
class Compression:
    """How a sample is degraded like a real video frame: optional down-and-up resize, then JPEG."""

    quality: int
    resize: float = 1.0  # < 1: shrink by this factor and restore, as a lower-resolution upload would

    @staticmethod
    def sample(
        rng: np.random.Generator, quality: tuple[int, int] = (60, 95), p_resize: float = 0.3
    ) -> Compression:
        """Quality uniform in ``quality``; with probability ``p_resize`` a resize factor in [0.5, 0.9]."""
        q = int(rng.integers(quality[0], quality[1] + 1))
        resize = float(np.round(rng.uniform(0.5, 0.9), 3)) if rng.random() < p_resize else 1.0
        return Compression(quality=q, resize=resize)

    def encode(self, image: np.ndarray) -> bytes:
        """The JPEG file of the RGB uint8 image after the resize round trip: the evidence as stored."""
        image = geo.resample(image, self.resize)
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return data.tobytes()

    @staticmethod
    def decode(data: bytes) -> np.ndarray:
        """RGB uint8 pixels of a JPEG file's bytes."""
        return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The RGB uint8 image as it comes back from ``encode``: resized round trip, then JPEG."""
        return self.decode(self.encode(image))


def uniform(rng: np.random.Generator, low: float, high: float, digits: int = 4) -> float:
    """A uniform draw rounded so that parameters print and serialise stably."""
    return float(np.round(rng.uniform(low, high), digits))
