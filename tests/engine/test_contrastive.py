"""HSCL losses against slow loops written straight from METHOD.md section 2."""

from __future__ import annotations

import math

import pytest
import torch

from cffd_engine.losses import DEFAULT_TEMPERATURE, HSCLoss, sfcl_loss, sficl_loss


def _unit(rows: torch.Tensor) -> list[list[float]]:
    out = []
    for row in rows.double().tolist():
        norm = math.sqrt(sum(v * v for v in row))
        out.append([v / norm for v in row])
    return out


def _sim(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def reference_sficl(z: torch.Tensor, labels: list[int], t: float) -> float:
    """-1/N' sum_i 1/|P(i)| sum_{j in P(i)} log(exp(s_ij/T) / sum_{k != i} exp(s_ik/T)); N' = anchors with P(i)."""
    z = _unit(z)
    n = len(labels)
    per_anchor = []
    for i in range(n):
        positives = [j for j in range(n) if j != i and labels[j] == labels[i]]
        if not positives:
            continue
        denominator = sum(math.exp(_sim(z[i], z[k]) / t) for k in range(n) if k != i)
        terms = [math.log(math.exp(_sim(z[i], z[j]) / t) / denominator) for j in positives]
        per_anchor.append(sum(terms) / len(positives))
    return -sum(per_anchor) / len(per_anchor) if per_anchor else 0.0


def reference_sfcl(za: torch.Tensor, zc: torch.Tensor, labels: list[int], t: float) -> float:
    """-1/N sum_i 1/|P'(i)| sum_{j: y_j = y_i} log(exp(s(a_i, c_j)/T) / sum_k exp(s(a_i, c_k)/T))."""
    a, c = _unit(za), _unit(zc)
    n = len(labels)
    per_anchor = []
    for i in range(n):
        positives = [j for j in range(n) if labels[j] == labels[i]]
        denominator = sum(math.exp(_sim(a[i], c[k]) / t) for k in range(n))
        terms = [math.log(math.exp(_sim(a[i], c[j]) / t) / denominator) for j in positives]
        per_anchor.append(sum(terms) / len(positives))
    return -sum(per_anchor) / n


LABELS = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0]


@pytest.mark.parametrize("temperature", [DEFAULT_TEMPERATURE, 0.1, 1.0])
def test_sficl_equals_the_formula(temperature):
    torch.manual_seed(0)
    z = torch.randn(len(LABELS), 6)
    got = sficl_loss(z, torch.tensor(LABELS), temperature).item()
    assert got == pytest.approx(reference_sficl(z, LABELS, temperature), rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("temperature", [DEFAULT_TEMPERATURE, 0.1, 1.0])
def test_sfcl_equals_the_formula_in_both_directions(temperature):
    torch.manual_seed(1)
    zs, zf = torch.randn(len(LABELS), 6), torch.randn(len(LABELS), 6)
    y = torch.tensor(LABELS)
    assert sfcl_loss(zs, zf, y, temperature).item() == pytest.approx(
        reference_sfcl(zs, zf, LABELS, temperature), rel=1e-4, abs=1e-4
    )
    assert sfcl_loss(zf, zs, y, temperature).item() == pytest.approx(
        reference_sfcl(zf, zs, LABELS, temperature), rel=1e-4, abs=1e-4
    )


def test_sfcl_counts_the_same_sample_as_a_positive():
    # Two classes of one sample each: SFICL has no positive at all, SFCL still has (i, i).
    zs, zf = torch.randn(2, 4), torch.randn(2, 4)
    loss = sfcl_loss(zs, zf, torch.tensor([0, 1]), 0.5).item()
    assert loss == pytest.approx(reference_sfcl(zs, zf, [0, 1], 0.5), rel=1e-5)
    assert loss > 0


def test_hscl_is_the_level_average_of_the_four_terms():
    torch.manual_seed(2)
    spatial_channels, frequency_channels = (4, 6, 8, 10), (5, 6, 7, 12)
    loss = HSCLoss(spatial_channels, frequency_channels, projection_dim=8, temperature=0.05)
    assert HSCLoss(spatial_channels, frequency_channels).temperature == 0.01
    n = len(LABELS)
    fs = [torch.randn(n, c, 3, 3) for c in spatial_channels]
    ff = [torch.randn(n, c, 2, 2) for c in frequency_channels]
    terms = loss(fs, ff, torch.tensor(LABELS))
    expected = [0.0, 0.0, 0.0, 0.0]
    with torch.no_grad():
        for level in range(4):
            zs = loss.spatial_heads[level].mlp(fs[level].mean(dim=(2, 3)))
            zf = loss.frequency_heads[level].mlp(ff[level].mean(dim=(2, 3)))
            expected[0] += reference_sficl(zs, LABELS, 0.05) / 4
            expected[1] += reference_sficl(zf, LABELS, 0.05) / 4
            expected[2] += reference_sfcl(zs, zf, LABELS, 0.05) / 4
            expected[3] += reference_sfcl(zf, zs, LABELS, 0.05) / 4
    got = [terms.intra_spatial, terms.intra_frequency, terms.spatial_to_frequency, terms.frequency_to_spatial]
    for g, e in zip(got, expected, strict=True):
        assert g.item() == pytest.approx(e, rel=1e-4)
    assert terms.total.item() == pytest.approx(sum(expected), rel=1e-4)


def test_clustered_features_score_lower_than_shuffled():
    torch.manual_seed(3)
    y = torch.tensor([0, 1] * 8)
    centres = torch.randn(2, 16)
    clustered = centres[y] + 0.3 * torch.randn(16, 16)
    other_view = centres[y] + 0.3 * torch.randn(16, 16)
    shuffled = clustered[torch.randperm(16)]
    for t in (DEFAULT_TEMPERATURE, 0.5):
        assert sficl_loss(clustered, y, t) < sficl_loss(shuffled, y, t)
        assert sfcl_loss(clustered, other_view, y, t) < sfcl_loss(shuffled, other_view, y, t)


@pytest.mark.parametrize(
    "labels",
    [[0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1], [0, 1], [1]],
    ids=["all-real", "all-fake", "lone-real", "two-singletons", "one-sample"],
)
def test_degenerate_batches_stay_finite(labels):
    n = len(labels)
    y = torch.tensor(labels)
    loss = HSCLoss((4, 4, 4, 4), (4, 4, 4, 4), projection_dim=8)
    fs = [torch.randn(n, 4, 2, 2, requires_grad=True) for _ in range(4)]
    ff = [torch.randn(n, 4, 2, 2, requires_grad=True) for _ in range(4)]
    terms = loss(fs, ff, y)
    assert all(torch.isfinite(t) for t in terms)
    terms.total.backward()
    for tensor in [*fs, *ff, *loss.parameters()]:
        assert torch.isfinite(tensor.grad).all()
    z = torch.randn(n, 5)
    assert sficl_loss(z, y).item() == pytest.approx(reference_sficl(z, labels, DEFAULT_TEMPERATURE), abs=1e-4)


def test_extreme_similarities_do_not_overflow():
    # Identical vectors at T = 0.01 give logits of 100: exp would overflow float32 in a naive sum.
    z = torch.ones(4, 3) * 1e3
    y = torch.tensor([0, 0, 1, 1])
    assert torch.isfinite(sficl_loss(z, y, 1e-3))
    assert torch.isfinite(sfcl_loss(z, -z, y, 1e-3))
