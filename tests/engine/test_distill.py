"""SLKD, MFKD and the optional relational / domain-level losses against loop-level references."""

from __future__ import annotations

import math

import pytest
import torch

from cffd_engine.losses import domain_mfkd_loss, feature_distance, mfkd_loss, relational_loss, slkd_loss


def reference_slkd(student: torch.Tensor, teacher: torch.Tensor, tau: float) -> float:
    total = 0.0
    for zs, zt in zip(student.tolist(), teacher.tolist(), strict=True):
        es = [math.exp(v / tau) for v in zs]
        et = [math.exp(v / tau) for v in zt]
        ps = [v / sum(es) for v in es]
        pt = [v / sum(et) for v in et]
        total += sum(t * math.log(t / s) for t, s in zip(pt, ps, strict=True))
    return tau**2 * total / len(student)


def reference_mfkd(student: list[torch.Tensor], teacher: list[torch.Tensor], normalize: str) -> float:
    levels = []
    for s_level, t_level in zip(student, teacher, strict=True):
        per_sample = []
        for s, t in zip(s_level.tolist(), t_level.tolist(), strict=True):
            s_flat, t_flat = torch.tensor(s).flatten().tolist(), torch.tensor(t).flatten().tolist()
            if normalize == "l2":
                ns = math.sqrt(sum(v * v for v in s_flat))
                nt = math.sqrt(sum(v * v for v in t_flat))
                s_flat, t_flat = [v / ns for v in s_flat], [v / nt for v in t_flat]
            distance = sum((a - b) ** 2 for a, b in zip(t_flat, s_flat, strict=True))
            if normalize == "elements":
                distance /= len(s_flat)
            per_sample.append(distance)
        levels.append(sum(per_sample) / len(per_sample))
    return sum(levels) / len(levels)


@pytest.mark.parametrize("tau", [1.0, 4.0, 20.0])
def test_slkd_matches_the_formula(tau):
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(5, 2, generator=generator) * 3
    teacher = torch.randn(5, 2, generator=generator) * 3
    # float32 KL at a high temperature is a small difference of logs: 1e-4 relative is its precision.
    assert float(slkd_loss(student, teacher, tau)) == pytest.approx(
        reference_slkd(student, teacher, tau), rel=1e-4
    )
    three = torch.randn(4, 3, generator=generator), torch.randn(4, 3, generator=generator)
    assert float(slkd_loss(*three, tau)) == pytest.approx(reference_slkd(*three, tau), rel=1e-4)


def test_slkd_is_zero_for_equal_logits_and_only_the_student_gets_gradient():
    logits = torch.randn(6, 2)
    assert float(slkd_loss(logits, logits.clone())) == pytest.approx(0.0, abs=1e-7)
    student = torch.randn(6, 2, requires_grad=True)
    teacher = torch.randn(6, 2, requires_grad=True)
    slkd_loss(student, teacher, 20.0).backward()
    assert student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_slkd_of_an_empty_batch_is_a_zero_with_a_graph():
    student = torch.zeros(0, 2, requires_grad=True)
    loss = slkd_loss(student, torch.zeros(0, 2))
    assert loss.requires_grad
    loss.backward()
    assert loss.item() == 0.0 and student.grad is not None


@pytest.mark.parametrize("normalize", ["none", "elements", "l2"])
def test_mfkd_matches_the_formula(normalize):
    generator = torch.Generator().manual_seed(1)
    shapes = [(3, 4, 4, 4), (3, 4, 2, 2), (3, 4, 1, 1)]
    student = [torch.randn(shape, generator=generator) for shape in shapes]
    teacher = [torch.randn(shape, generator=generator) for shape in shapes]
    expected = reference_mfkd(student, teacher, normalize)
    assert float(mfkd_loss(student, teacher, normalize)) == pytest.approx(expected, rel=1e-5)


def test_mfkd_is_zero_for_equal_features_and_grows_with_the_difference():
    features = [torch.randn(2, 3, 4, 4), torch.randn(2, 3, 2, 2)]
    assert float(mfkd_loss(features, [f.clone() for f in features])) == 0.0
    losses = [float(mfkd_loss([f + step for f in features], features)) for step in (0.1, 0.2, 0.4)]
    assert losses[0] < losses[1] < losses[2]
    # Per-sample sum: twice the distance in every element is four times the loss.
    assert losses[1] == pytest.approx(4 * losses[0], rel=1e-5)


def test_feature_distance_is_per_sample():
    student = torch.zeros(2, 1, 2, 2)
    teacher = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
    assert feature_distance(student, teacher).tolist() == [0.0, 4.0]
    assert feature_distance(student, teacher, "elements").tolist() == [0.0, 1.0]


def test_relational_loss_matches_the_pairwise_similarity_reference():
    generator = torch.Generator().manual_seed(2)
    student, teacher = torch.randn(4, 5, generator=generator), torch.randn(4, 5, generator=generator)

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
            sum(x * x for x in a) * sum(y * y for y in b)
        )

    s, t = student.tolist(), teacher.tolist()
    expected = sum((cosine(s[i], s[j]) - cosine(t[i], t[j])) ** 2 for i in range(4) for j in range(4)) / 16
    assert float(relational_loss(student, teacher)) == pytest.approx(expected, rel=1e-5)
    # Rotating every embedding the same way keeps every similarity: nothing to distil.
    rotation, _ = torch.linalg.qr(torch.randn(5, 5, generator=generator))
    assert float(relational_loss(teacher @ rotation, teacher)) == pytest.approx(0.0, abs=1e-6)
    assert float(relational_loss(student[:1], teacher[:1])) == 0.0


def test_domain_level_distillation_averages_the_two_pyramids():
    generator = torch.Generator().manual_seed(3)
    spatial = [torch.randn(2, 3, 4, 4, generator=generator) for _ in range(2)]
    frequency = [torch.randn(2, 5, 4, 4, generator=generator) for _ in range(2)]
    teacher_spatial = [f + 0.5 for f in spatial]
    teacher_frequency = [f * 2 for f in frequency]
    expected = 0.5 * (
        reference_mfkd(spatial, teacher_spatial, "l2") + reference_mfkd(frequency, teacher_frequency, "l2")
    )
    loss = domain_mfkd_loss(spatial, frequency, teacher_spatial, teacher_frequency, "l2")
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="temperature"):
        slkd_loss(torch.zeros(1, 2), torch.zeros(1, 2), 0.0)
    with pytest.raises(ValueError, match="same shape"):
        slkd_loss(torch.zeros(1, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="normalisation"):
        feature_distance(torch.zeros(1, 2), torch.zeros(1, 2), "max")
    with pytest.raises(ValueError, match="levels"):
        mfkd_loss([torch.zeros(1, 2)], [])
