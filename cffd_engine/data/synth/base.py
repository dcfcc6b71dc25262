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
from fractions import Fraction
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


# Video-like degradation (BuildSettings.video_like): how often each step is applied and its range.
# The ranges reach as far as real footage goes (small faces enlarged, phone "beauty" smoothing, strong
# compression): the families' forgeries smooth parts of a face, and a detector that never saw genuine
# faces this smooth learns "smooth means manipulated" (measured in docs/detector-2026-12-03.md).
P_LOW_RES, LOW_RES = 0.5, (0.3, 0.9)  # shrink by this factor and enlarge back
P_SMOOTH, SMOOTH_SIGMA = 0.25, (15.0, 60.0)  # edge-preserving (bilateral) smoothing, colour sigma
P_BLUR, BLUR_SIGMA = 0.4, (0.3, 2.0)
P_SHARPEN, SHARPEN = 0.2, (0.3, 1.0)  # unsharp mask amount, as cameras sharpen
P_NOISE, NOISE_SIGMA = 0.3, (1.0, 4.0)
P_H264 = 0.6
H264_CRF = (18, 40)
MPEG4_QUANTISER = (2, 16)


@dataclass(frozen=True)
class Compression:
    """How a sample is degraded like a real video frame: optional down-and-up resize; for video-like
    builds then edge-preserving smoothing, blur, sharpening, sensor noise and one frame through a real H.264 or MPEG-4 encoder and decoder
    (PyAV); then JPEG. A photo and its forgery get the same draw, so the degradation is never the cue.
    """

    quality: int
    resize: float = 1.0  # < 1: shrink by this factor and restore, as a lower-resolution upload would
    blur: float = 0.0  # Gaussian sigma in pixels (0: none)
    smooth: float = 0.0  # bilateral filter colour sigma (0: none)
    sharpen: float = 0.0  # unsharp mask amount (0: none)
    noise: float = 0.0  # sigma of Gaussian noise in grey levels (0: none)
    noise_seed: int = 0  # the same noise pattern on the photo and its forgery
    codec: str = ""  # "h264", "mpeg4", or "" for none
    codec_quality: int = 0  # x264 CRF, or the MPEG-4 quantiser

    @staticmethod
    def sample(
        rng: np.random.Generator,
        quality: tuple[int, int] = (60, 95),
        p_resize: float = 0.3,
        video_like: bool = False,
    ) -> Compression:
        """Quality uniform in ``quality``; with probability ``p_resize`` a resize factor in [0.5, 0.9];
        with ``video_like``, the resize, smoothing, blur, sharpening, noise and codec the constants above say."""
        q = int(rng.integers(quality[0], quality[1] + 1))
        resize = float(np.round(rng.uniform(0.5, 0.9), 3)) if rng.random() < p_resize else 1.0
        if not video_like:  # the draws above come first, so older builds are made exactly as before
            return Compression(quality=q, resize=resize)
        resize = uniform(rng, *LOW_RES, digits=3) if rng.random() < P_LOW_RES else 1.0
        smooth = uniform(rng, *SMOOTH_SIGMA, digits=1) if rng.random() < P_SMOOTH else 0.0
        blur = uniform(rng, *BLUR_SIGMA, digits=3) if rng.random() < P_BLUR else 0.0
        sharpen = uniform(rng, *SHARPEN, digits=3) if rng.random() < P_SHARPEN else 0.0
        noise = uniform(rng, *NOISE_SIGMA, digits=3) if rng.random() < P_NOISE else 0.0
        noise_seed = int(rng.integers(2**31))
        codec = "h264" if rng.random() < P_H264 else "mpeg4"
        low, high = H264_CRF if codec == "h264" else MPEG4_QUANTISER
        codec_quality = int(rng.integers(low, high + 1))
        return Compression(q, resize, blur, smooth, sharpen, noise, noise_seed, codec, codec_quality)

    def encode(self, image: np.ndarray) -> bytes:
        """The JPEG file of the RGB uint8 image after the degradations: the evidence as stored."""
        image = geo.resample(image, self.resize)
        if self.smooth > 0:
            image = cv2.bilateralFilter(image, 9, self.smooth, 5)
        if self.blur > 0:
            image = cv2.GaussianBlur(image, (0, 0), self.blur)
        if self.sharpen > 0:
            image = cv2.addWeighted(
                image, 1 + self.sharpen, cv2.GaussianBlur(image, (0, 0), 1.5), -self.sharpen, 0
            )
        if self.noise > 0:
            noise = np.random.default_rng(self.noise_seed).normal(0.0, self.noise, image.shape)
            image = np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)
        if self.codec:
            image = codec_round_trip(image, self.codec, self.codec_quality)
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
        """The RGB uint8 image as it comes back from ``encode``: the degradations, then JPEG."""
        return self.decode(self.encode(image))


def codec_round_trip(image: np.ndarray, codec: str, quality: int) -> np.ndarray:
    """The RGB uint8 image as one frame of a video: encoded by libx264 (``quality`` = CRF) or FFmpeg's
    MPEG-4 (``quality`` = quantiser) in 4:2:0 and decoded again, through PyAV. Deterministic."""
    import av

    height, width = image.shape[:2]
    even = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")  # 4:2:0 needs even sides
    encoder = av.CodecContext.create("libx264" if codec == "h264" else "mpeg4", "w")
    encoder.width, encoder.height = even.shape[1], even.shape[0]
    encoder.pix_fmt, encoder.time_base, encoder.thread_count = "yuv420p", Fraction(1, 25), 1
    if codec == "h264":
        # mbtree reads memory it never wrote: without it the same frame gives the same bytes.
        encoder.options = {"crf": str(quality), "preset": "veryfast", "x264-params": "mbtree=0"}
    elif codec == "mpeg4":
        encoder.options = {"qmin": str(quality), "qmax": str(quality)}
    else:
        raise ValueError(f"unknown codec {codec!r}; choose h264 or mpeg4")
    frame = av.VideoFrame.from_ndarray(even, format="rgb24").reformat(format="yuv420p")
    packets = [*encoder.encode(frame), *encoder.encode(None)]
    decoder = av.CodecContext.create(codec, "r")
    decoded = [out for packet in [*packets, None] for out in decoder.decode(packet)]
    return np.ascontiguousarray(decoded[0].to_ndarray(format="rgb24")[:height, :width])


def uniform(rng: np.random.Generator, low: float, high: float, digits: int = 4) -> float:
    """A uniform draw rounded so that parameters print and serialise stably."""
    return float(np.round(rng.uniform(low, high), digits))
