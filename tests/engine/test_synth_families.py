"""The four forgery families on a real face: each changes only its mask, and each does what it claims."""

from __future__ import annotations

import numpy as np
import pytest

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Compression, Face
from cffd_engine.data.synth.builder import BuildSettings
from cffd_engine.data.synth.families import (
    DEFAULT_SEQUENCE,
    FAMILIES,
    FAMILY_NAMES,
    get_family,
    parse_methods,
)
from cffd_engine.data.synth.swap import align_donor
from cffd_engine.data.synth.texture import mouth_mask
from cffd_engine.media.faces import FaceLandmarker
from tests.synthetic_media import altered_portrait


@pytest.fixture(scope="module")
def landmarker():
    with FaceLandmarker(max_faces=1) as landmarker:
        yield landmarker


@pytest.fixture(scope="module")
def face(portrait, landmarker) -> Face:
    return Face(portrait, landmarker.landmarks(portrait)[0], "portrait")


@pytest.fixture(scope="module")
def donor(landmarker) -> Face:
    image = altered_portrait()
    return Face(image, landmarker.landmarks(image)[0], "altered")


@pytest.mark.parametrize("name", FAMILY_NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_family_changes_pixels_only_inside_its_mask(name, seed, face, donor):
    family = get_family(name)
    forgery = family(face, np.random.default_rng(seed), donor if family.needs_donor else None)
    assert forgery.image.shape == face.image.shape and forgery.image.dtype == np.uint8
    assert forgery.mask.shape == face.image.shape[:2] and forgery.mask.dtype == np.float32
    assert 0.0 <= forgery.mask.min() and forgery.mask.max() <= 1.0
    outside = forgery.mask == 0
    assert np.array_equal(forgery.image[outside], face.image[outside])
    changed = np.any(forgery.image != face.image, axis=2)
    assert changed.sum() > 200, "the forgery changed almost nothing"
    assert forgery.mask[changed].min() > 0
    # The mask is a face region, not the whole picture.
    assert 0.002 < (forgery.mask > 0).mean() < 0.5
    assert forgery.family == name


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_same_parameters_give_the_same_forgery(name, face, donor):
    family = get_family(name)
    used = donor if family.needs_donor else None
    params = family.sample(np.random.default_rng(5), face, used)
    first, second = family.apply(face, params, used), family.apply(face, params, used)
    assert np.array_equal(first.image, second.image)
    faded = family.apply(face, family.fade(params, 0.0), used)
    if name != "swap":  # a swap switches, it does not fade
        assert np.abs(faded.image.astype(int) - face.image).max() <= 1


def test_swap_moves_shape_and_texture_toward_the_donor(face, donor, landmarker):
    family = get_family("swap")
    params = {**family.sample(np.random.default_rng(0), face, donor), "clone": "poisson", "erode": 0.03}
    forgery = family.apply(face, params, donor)
    swapped = landmarker.landmarks(forgery.image)[0]
    inner = sorted(set(geo.LEFT_EYE + geo.RIGHT_EYE + geo.NOSE + geo.LIPS_OUTER))
    before = geo.shape_distance(face.landmarks, donor.landmarks, inner)
    after = geo.shape_distance(swapped, donor.landmarks, inner)
    assert after < 0.6 * before, (before, after)

    # Fine texture (identity detail) inside the mask now follows the aligned donor, not the original.
    aligned, _ = align_donor(face, donor)
    inside = forgery.mask > 0.9

    def detail(image: np.ndarray) -> np.ndarray:
        grey = image.astype(np.float32).mean(axis=2)
        import cv2

        return (grey - cv2.GaussianBlur(grey, (0, 0), 2.0))[inside]

    to_donor = np.corrcoef(detail(forgery.image), detail(aligned))[0, 1]
    to_original = np.corrcoef(detail(forgery.image), detail(face.image))[0, 1]
    assert to_donor > 0.6 and to_donor > to_original + 0.2, (to_donor, to_original)


def test_swap_needs_a_donor(face):
    with pytest.raises(ValueError, match="donor"):
        get_family("swap")(face, np.random.default_rng(0))


def _shift_at(
    original: np.ndarray, forged: np.ndarray, point: np.ndarray, half: tuple[int, int], search: int
) -> np.ndarray:
    """Where the patch of ``original`` around ``point`` went in ``forged``: (dx, dy) pixels, by template matching."""
    import cv2

    x, y = (int(round(v)) for v in point)
    hw, hh = half
    template = original[y - hh : y + hh + 1, x - hw : x + hw + 1]
    window = forged[y - hh - search : y + hh + search + 1, x - hw - search : x + hw + search + 1]
    scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
    _, _, _, best = cv2.minMaxLoc(scores)
    return np.array(best, np.float64) - search


@pytest.mark.parametrize("amount", [0.06, 0.12])
def test_reenact_opens_the_mouth_by_the_requested_amount(amount, face, landmarker):
    family = get_family("reenact")
    params = {"mouth_open": amount, "smile": 0.0, "brow_raise": 0.0, "cavity": 0.8}
    forgery = family.apply(face, params, None)
    assert forgery.params["applied_scale"] == 1.0
    unit = geo.iod(face.landmarks)
    _, down = geo.face_axes(face.landmarks)
    points = geo.xy(face.landmarks)
    # In the pixels: the skin between lower lip and chin has moved down by the requested amount.
    below_lip = (points[17] + points[geo.CHIN]) / 2
    shift = _shift_at(
        face.image, forgery.image, below_lip, (int(0.2 * unit), int(0.08 * unit)), int(0.3 * unit)
    )
    assert shift @ down / unit == pytest.approx(amount, abs=0.015)
    # And a landmarker run on the forgery finds the lower lip moved by it (a learned model: 30 % slack).
    moved = geo.xy(landmarker.landmarks(forgery.image)[0])
    lower_lip = [17, 84, 314]
    dropped = ((moved[lower_lip] - points[lower_lip]) @ down).mean() / unit
    assert dropped == pytest.approx(amount, rel=0.3), dropped
    eyes = geo.LEFT_EYE + geo.RIGHT_EYE
    assert np.linalg.norm(moved[eyes] - points[eyes], axis=1).mean() / unit < 0.03
    # The upper lip's pixels stay: the mouth opens by the jaw, as in speech.
    upper = _shift_at(
        face.image, forgery.image, points[0] - 0.06 * unit * down, (int(0.2 * unit), int(0.05 * unit)), 8
    )
    assert np.abs(upper).max() <= 1


def test_reenact_raises_the_brows_by_the_requested_amount(face):
    family = get_family("reenact")
    params = {"mouth_open": 0.0, "smile": 0.0, "brow_raise": 0.08, "cavity": 0.8}
    forgery = family.apply(face, params, None)
    unit = geo.iod(face.landmarks)
    _, down = geo.face_axes(face.landmarks)
    shifts = []
    for point in (105, 334, 66, 296):  # the middle of each brow, upper and lower edge
        centre = geo.xy(face.landmarks)[point]
        shift = _shift_at(
            face.image, forgery.image, centre, (int(0.2 * unit), int(0.06 * unit)), int(0.2 * unit)
        )
        shifts.append(-shift @ down / unit)
    # Whole-pixel matching on smooth skin: about one pixel (0.011 IOD here) of slack.
    assert np.median(shifts) == pytest.approx(0.08, abs=0.02), shifts


@pytest.mark.data
def test_reenact_moves_landmarks_found_on_real_photos(shared_data, landmarker):
    """On UTKFace photos a landmarker sees the lower lip drop and the brows lift by about what was asked."""
    from cffd_engine.media.video import read_image

    photos = sorted((shared_data / "faces" / "utkface").glob("*.jpg"))[::2500][:6]
    ratios = {"lip": [], "brow": []}
    for path in photos:
        image = read_image(path)
        found = landmarker.landmarks(image)
        if not found:
            continue
        face = Face(image, found[0], path.name)
        unit, (_, down) = geo.iod(face.landmarks), geo.face_axes(face.landmarks)
        params = {"mouth_open": 0.1, "smile": 0.0, "brow_raise": 0.08, "cavity": 0.8}
        forgery = get_family("reenact").apply(face, params, None)
        moved = landmarker.landmarks(forgery.image)[0]
        delta = (geo.xy(moved) - geo.xy(face.landmarks)) @ down / unit
        ratios["lip"].append(delta[[17, 84, 314]].mean() / 0.1 / forgery.params["applied_scale"])
        ratios["brow"].append(
            -delta[geo.LEFT_EYEBROW + geo.RIGHT_EYEBROW].mean() / 0.08 / forgery.params["applied_scale"]
        )
    assert len(ratios["lip"]) >= 4
    # A learned landmarker pulls towards the average face: it sees most, not all, of the change.
    assert 0.5 < np.median(ratios["lip"]) < 1.3, ratios
    assert 0.4 < np.median(ratios["brow"]) < 1.3, ratios


def _peak_ratio(image: np.ndarray, region: np.ndarray, period: int) -> float:
    """Spectral magnitude at the harmonics of ``period`` over the median of the upper half of the spectrum."""
    x, y, w, h = region
    grey = image[y : y + h, x : x + w].astype(np.float64).mean(axis=2)
    grey = grey - grey.mean()
    spectrum = np.abs(np.fft.fft2(grey * np.outer(np.hanning(h), np.hanning(w))))
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    high = np.maximum(np.abs(fy), np.abs(fx)) > 0.25
    peaks = []
    for k in range(1, period):
        for ky, kx in ((k / period, 0.0), (0.0, k / period), (k / period, k / period)):
            iy, ix = int(round(ky * h)) % h, int(round(kx * w)) % w
            peaks.append(spectrum[iy, ix])
    return float(np.mean(peaks) / np.median(spectrum[high]))


def test_texture_adds_a_periodic_peak_to_the_mouth_spectrum(face):
    import cv2

    family = get_family("texture")
    params = {**family.sample(np.random.default_rng(3), face, None), "kernel_noise": 0.08, "strength": 1.0}
    forgery = family.apply(face, params, None)
    period = forgery.params["factor"]
    inner = geo.grow(mouth_mask(face, params), -2 * period)
    region = cv2.boundingRect(inner)
    # Whole periods only, so the harmonics fall on exact frequency bins.
    region = (region[0], region[1], region[2] // period * period, region[3] // period * period)
    before, after = _peak_ratio(face.image, region, period), _peak_ratio(forgery.image, region, period)
    assert after > 4 * before, (before, after)


def test_compression_is_jpeg_at_the_drawn_quality(face):
    rng = np.random.default_rng(0)
    draws = [Compression.sample(rng) for _ in range(200)]
    assert all(60 <= d.quality <= 95 for d in draws)
    assert 0.15 < np.mean([d.resize < 1 for d in draws]) < 0.45
    low, high = Compression(quality=60), Compression(quality=95)
    assert len(low.encode(face.image)) < len(high.encode(face.image))
    degraded = Compression(quality=70, resize=0.5).apply(face.image)
    assert degraded.shape == face.image.shape and not np.array_equal(degraded, face.image)


def test_morph_moves_the_face_part_way_towards_the_donor_and_mixes_its_texture(face, donor, landmarker):
    family = get_family("morph")
    params = {
        **family.sample(np.random.default_rng(0), face, donor),
        "shape": 0.5,
        "texture": 0.5,
        "erode": 0.0,
    }
    forgery = family.apply(face, params, donor)
    assert forgery.params["applied_shape"] > 0.3  # no fold forced a smaller change on these two faces
    morphed = landmarker.landmarks(forgery.image)[0]
    _, aligned_donor = align_donor(face, donor)
    inner = sorted(set(geo.LEFT_EYE + geo.RIGHT_EYE + geo.NOSE + geo.LIPS_OUTER))
    apart = geo.shape_distance(face.landmarks, aligned_donor, inner)
    to_donor = geo.shape_distance(morphed, aligned_donor, inner)
    to_target = geo.shape_distance(morphed, face.landmarks, inner)
    # Between the two: nearer the donor than the target was, and away from the target.
    assert to_donor < 0.85 * apart and to_target > 0.15 * apart, (apart, to_donor, to_target)

    # Inside the face, the morph's pixels lie between the target's warped face and the donor's:
    # the texture term is a mix, so the image differs from the target by about half the donor's difference.
    half = {**params, "shape": 0.0}
    mixed = family.apply(face, half, donor).image.astype(np.float32)
    only_donor = family.apply(face, {**half, "texture": 1.0}, donor).image.astype(np.float32)
    centre = forgery.mask > 0.99
    original = face.image.astype(np.float32)
    ratio = np.abs(mixed - original)[centre].mean() / np.abs(only_donor - original)[centre].mean()
    assert 0.3 < ratio < 0.7, ratio


def test_family_names_and_parsing():
    assert FAMILY_NAMES == ("blend", "swap", "reenact", "texture", "morph")
    # The default model's sequence leaves the fifth family out: it is the forgery it never saw.
    assert (
        DEFAULT_SEQUENCE == FAMILY_NAMES[:4] and BuildSettings(faces="f", out="o").methods == DEFAULT_SEQUENCE
    )
    assert all(family.imitates for family in FAMILIES.values())
    assert parse_methods("swap, blend,swap") == ["swap", "blend"]
    with pytest.raises(ValueError, match="unknown forgery family 'gan'"):
        parse_methods("blend,gan")
