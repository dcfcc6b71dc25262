"""The frequency content of a face: its 2-D log-magnitude spectrum and its radial power profile.

Resampling, blending and generator up-sampling change how a face's power is
spread over spatial frequencies; real camera faces follow a smooth fall-off.
``radial_power`` is the azimuthally averaged power of the Hann-windowed grey
face in ``BINS`` rings from 0 to 0.5 cycles per pixel, as dB of the face's
total power (so brightness and contrast do not move it). A model bundle ships
``reference_spectrum.json``: the 5th, 50th and 95th percentile of that curve
over real face crops. A bundle without one gets a generic band measured once
on real face photos (``GENERIC_BAND``), and the result says which was used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from cffd_engine.errors import CFFDError
from cffd_engine.fileio import atomic_write_json

BINS = 32
REFERENCE_FILE = "reference_spectrum.json"
# The generic band, in dB per ring: compute_reference_spectrum over 396 UTKFace photos (every 53rd
# file of the shared set) cut as the analysis cuts faces (1.3 x the detected box, 160 px; the
# image edge reflected where the square leaves the photo). Real faces, but not the model's
# training faces nor a given video's compression: a fallback only.
GENERIC_BAND = {
    "p05": (-3.9, -12.9, -18.7, -23.5, -26.7, -30.2, -32.5, -35.6, -38.5, -41.6, -43.9, -47.0, -48.9, -51.1, -52.9, -54.9,
            -56.4, -57.9, -58.4, -59.8, -60.7, -61.8, -62.4, -63.6, -63.8, -64.6, -65.3, -66.0, -66.3, -67.1, -67.5, -67.9),
    "p50": (-1.3, -7.5, -14.0, -18.5, -21.3, -24.3, -26.6, -29.3, -31.5, -33.5, -35.5, -37.5, -38.9, -41.0, -42.4, -44.4,
            -45.9, -47.8, -49.0, -50.6, -51.8, -53.2, -54.2, -55.2, -56.1, -57.0, -57.7, -58.7, -59.1, -59.8, -60.3, -60.8),
    "p95": (-0.4, -3.8, -9.5, -13.2, -16.5, -19.3, -21.0, -23.6, -25.3, -27.9, -28.6, -30.6, -32.0, -33.8, -34.6, -36.2,
            -37.5, -38.6, -39.1, -40.5, -41.8, -43.0, -43.9, -45.2, -46.3, -47.2, -48.1, -49.4, -50.3, -51.1, -51.5, -52.2),
}  # fmt: skip
GENERIC_COUNT = 396
_EPS = 1e-12


def frequencies(bins: int = BINS) -> np.ndarray:
    """Centre of each radial ring, in cycles per pixel (0 to 0.5)."""
    edges = np.linspace(0.0, 0.5, bins + 1)
    return (edges[:-1] + edges[1:]) / 2


def _grey_windowed(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float64) / 255.0
    grey -= grey.mean()
    window = np.outer(np.hanning(grey.shape[0]), np.hanning(grey.shape[1]))
    return grey * window


def log_magnitude(rgb: np.ndarray) -> np.ndarray:
    """The centred 2-D log-magnitude FFT of the windowed grey face, float32 (H, W), DC in the middle."""
    spectrum = np.fft.fftshift(np.fft.fft2(_grey_windowed(rgb)))
    return np.log10(np.abs(spectrum) + 1e-6).astype(np.float32)


def radial_power(rgb: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Azimuthally averaged power per ring (0 to 0.5 cycles/px), in dB of the total; shape (bins,)."""
    power = np.abs(np.fft.fft2(_grey_windowed(rgb))) ** 2
    height, width = power.shape
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    ring = np.floor(radius / 0.5 * bins).astype(np.int64)
    keep = (ring < bins) & (radius > 0)
    sums = np.bincount(ring[keep], weights=power[keep], minlength=bins)
    counts = np.bincount(ring[keep], minlength=bins)
    mean = sums / np.maximum(counts, 1)
    sampled = counts > 0
    if not sampled.all():  # small crops leave the innermost rings without a frequency sample
        centres = np.arange(bins)
        mean[~sampled] = np.interp(centres[~sampled], centres[sampled], mean[sampled])
    return (10 * np.log10(mean / max(mean.sum(), _EPS) + _EPS)).astype(np.float64)


@dataclass
class ReferenceSpectrum:
    """Percentile band of ``radial_power`` over real faces: the curve a real face is expected to follow."""

    frequencies: list[float]
    p05: list[float]
    p50: list[float]
    p95: list[float]
    count: int
    crop_size: int
    source: str
    fallback: bool = False
    # How far genuine faces the band was not built from stray outside it (``genuine_outside``).
    genuine_outside: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ReferenceSpectrum:
        return cls(**data)

    def describe(self) -> str:
        """One line for the report: where the band comes from."""
        if self.fallback:
            return f"generic band, as the model ships no reference of its own: {self.source}"
        return f"{self.count} real face crops of {self.crop_size} px ({self.source})"

    def genuine_words(self) -> str:
        """How far outside the band genuine faces fall, so that a face's own figure can be read."""
        typical = self.genuine_outside
        if not typical:
            return "How often genuine faces fall outside this band was not measured."
        half = (
            "no ring" if typical["median"] == 0 else f"{100 * typical['median']:.0f}% of their rings or fewer"
        )
        return (
            f"Genuine faces fall outside it too: of {typical['faces']} held-out genuine faces "
            f"({typical['source']}), half had {half} outside the band, and 1 in 20 more than "
            f"{100 * typical['p95']:.0f}%."
        )


def compute_reference_spectrum(
    crops: Iterable[np.ndarray], source: str, bins: int = BINS
) -> ReferenceSpectrum:
    """The 5/50/95th percentile band of ``radial_power`` over real face crops (RGB uint8, one size).

    ``source`` says in words which faces they are (it is printed in reports). Ship the
    result in a model bundle with ``save_reference_spectrum`` before ``write_bundle``.
    """
    curves, size = [], 0
    for crop in crops:
        size = size or int(crop.shape[0])
        curves.append(radial_power(crop, bins))
    if len(curves) < 2:
        raise ValueError(f"a reference band needs at least 2 real face crops, got {len(curves)}")
    stack = np.stack(curves)
    low, mid, high = np.percentile(stack, [5, 50, 95], axis=0)
    return ReferenceSpectrum(
        frequencies=_rounded(frequencies(bins)),
        p05=_rounded(low),
        p50=_rounded(mid),
        p95=_rounded(high),
        count=len(curves),
        crop_size=size,
        source=source,
    )


def genuine_outside(crops: Iterable[np.ndarray], reference: ReferenceSpectrum, source: str) -> dict:
    """How far genuine face crops the band was not built from fall outside it: the median and 95th
    percentile of their share of rings outside (``compare``), for ``ReferenceSpectrum.genuine_outside``."""
    shares = [compare(radial_power(crop, len(reference.p50)), reference).outside_fraction for crop in crops]
    if not shares:
        raise ValueError("no genuine face crops to measure the band on")
    median, p95 = np.percentile(shares, [50, 95])
    return {
        "faces": len(shares),
        "median": round(float(median), 4),
        "p95": round(float(p95), 4),
        "source": source,
    }


def save_reference_spectrum(bundle_dir: Path | str, reference: ReferenceSpectrum) -> Path:
    """Write ``reference_spectrum.json`` into a bundle folder being built (before ``write_bundle``)."""
    path = Path(bundle_dir) / REFERENCE_FILE
    atomic_write_json(path, reference.to_dict())
    return path


def load_reference_spectrum(bundle_dir: Path | str) -> ReferenceSpectrum | None:
    """The bundle's reference band, or None when it ships none (verify the bundle first).

    A bundle may come from another lab: a band that is not ``BINS`` numbers per curve raises
    CFFDError naming the file, rather than failing every analysis later.
    """
    import json

    path = Path(bundle_dir) / REFERENCE_FILE
    if not path.is_file():
        return None
    try:
        reference = ReferenceSpectrum.from_dict(json.loads(path.read_text(encoding="utf-8")))
        curves = (reference.frequencies, reference.p05, reference.p50, reference.p95)
        if not all(
            isinstance(curve, list) and len(curve) == BINS and all(_finite(v) for v in curve)
            for curve in curves
        ):
            raise ValueError(f"each curve must be {BINS} numbers")
        typical = reference.genuine_outside
        if typical is not None and not (
            isinstance(typical, dict)
            and all(_finite(typical.get(key)) for key in ("faces", "median", "p95"))
            and isinstance(typical.get("source"), str)
        ):
            raise ValueError("genuine_outside must hold faces, median, p95 and source")
    except (ValueError, TypeError, RecursionError) as exc:
        raise CFFDError(
            f"{path}: the model's reference spectrum is malformed ({exc}); "
            "the bundle is damaged or was not made by CFFD Studio: use another model version"
        ) from exc
    return reference


def _finite(value) -> bool:
    try:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def fallback_reference() -> ReferenceSpectrum:
    """The generic real-face band (``GENERIC_BAND``), for bundles that ship no reference of their own."""
    return ReferenceSpectrum(
        frequencies=_rounded(frequencies(len(GENERIC_BAND["p50"]))),
        p05=list(GENERIC_BAND["p05"]),
        p50=list(GENERIC_BAND["p50"]),
        p95=list(GENERIC_BAND["p95"]),
        count=GENERIC_COUNT,
        crop_size=160,
        source=f"{GENERIC_COUNT} UTKFace photos cut as the analysis cuts faces, 160 px (measured once, not this model's data)",
        fallback=True,
    )


@dataclass
class SpectrumComparison:
    """How a face's radial power sits against the band: share of rings outside, high-frequency excess."""

    outside_fraction: float  # rings below p05 or above p95
    high_frequency_excess_db: float  # mean (curve - p50) over rings above 0.25 cycles/px

    def to_dict(self) -> dict:
        return asdict(self)


def compare(curve: np.ndarray | list[float], reference: ReferenceSpectrum) -> SpectrumComparison:
    """Compare a ``radial_power`` curve with the reference band (same number of rings)."""
    curve = np.asarray(curve, dtype=np.float64)
    low, mid, high = (np.asarray(v) for v in (reference.p05, reference.p50, reference.p95))
    if curve.shape != mid.shape:
        raise ValueError(f"curve has {curve.size} rings, the reference {mid.size}")
    outside = float(np.mean((curve < low) | (curve > high)))
    upper = np.asarray(reference.frequencies) > 0.25
    excess = float(np.mean(curve[upper] - mid[upper])) if upper.any() else 0.0
    return SpectrumComparison(round(outside, 4), round(excess, 3))


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]
