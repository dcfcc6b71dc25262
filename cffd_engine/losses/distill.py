"""Knowledge distillation for continual learning (METHOD.md section 3): SLKD, MFKD and two options.

SLKD distils the teacher's softened class probabilities, MFKD its multi-level RSIA
features f^l. The relational and the domain-level losses are the "further
perspectives" the method notes suggest (off by default in CFFD). Every loss is
computed in float32 and returns a scalar attached to the graph, zero for an empty batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_KD_TEMPERATURE = 20.0
FeatureNorm = Literal["none", "elements", "l2"]
FEATURE_NORMS = ("none", "elements", "l2")


def _zero_like(tensor: Tensor) -> Tensor:
    return tensor.float().sum() * 0.0


def slkd_loss(
    student_logits: Tensor, teacher_logits: Tensor, temperature: float = DEFAULT_KD_TEMPERATURE
) -> Tensor:
    """tau^2 * 1/N sum_i KL(softmax(z_t,i / tau) || softmax(z_s,i / tau)).

    student_logits, teacher_logits (N, C); the teacher is treated as a constant target.
    The tau^2 factor keeps the gradient scale independent of the temperature (Hinton et al.).
    """
    if temperature <= 0:
        raise ValueError(f"SLKD temperature must be positive, got {temperature}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"SLKD needs logits of the same shape, got {tuple(student_logits.shape)} and "
            f"{tuple(teacher_logits.shape)}"
        )
    if student_logits.shape[0] == 0:
        return _zero_like(student_logits)
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.detach().float() / temperature, dim=1)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1)
    return temperature**2 * kl.mean()


def _flat(features: Tensor, normalize: FeatureNorm) -> Tensor:
    flat = features.float().flatten(1)
    return F.normalize(flat, dim=1) if normalize == "l2" else flat


def feature_distance(student: Tensor, teacher: Tensor, normalize: FeatureNorm = "none") -> Tensor:
    """Per-sample squared L2 distance ||f_t(x_i) - f_s(x_i)||^2 of one level, shape (N,).

    ``normalize``: "none" is the formula as written; "elements" divides by the number of
    elements per sample (a per-element mean, independent of the input size); "l2"
    L2-normalises each sample's flattened features first (so the distance is in [0, 4]).
    """
    if normalize not in FEATURE_NORMS:
        raise ValueError(f"feature normalisation {normalize!r}; expected one of {FEATURE_NORMS}")
    if student.shape != teacher.shape:
        raise ValueError(
            f"feature distillation needs features of the same shape, got {tuple(student.shape)} "
            f"and {tuple(teacher.shape)}"
        )
    s, t = _flat(student, normalize), _flat(teacher.detach(), normalize)
    distance = (t - s).pow(2).sum(dim=1)
    if normalize == "elements":
        distance = distance / max(1, s.shape[1])
    return distance


def mfkd_loss(
    student_features: Sequence[Tensor], teacher_features: Sequence[Tensor], normalize: FeatureNorm = "none"
) -> Tensor:
    """MFKD = 1/L sum_l 1/N sum_i ||f_t^l(x_i) - f_s^l(x_i)||^2 over the levels' RSIA outputs.

    Each sequence holds the L per-level tensors (N, D, H_l, W_l) of one model; see
    ``feature_distance`` for ``normalize``.
    """
    if len(student_features) != len(teacher_features) or not student_features:
        raise ValueError(
            f"MFKD needs the same non-zero number of levels, got {len(student_features)} and "
            f"{len(teacher_features)}"
        )
    if student_features[0].shape[0] == 0:
        return _zero_like(student_features[0])
    per_level = [
        feature_distance(s, t, normalize).mean()
        for s, t in zip(student_features, teacher_features, strict=True)
    ]
    return torch.stack(per_level).mean()


def domain_mfkd_loss(
    student_spatial: Sequence[Tensor],
    student_frequency: Sequence[Tensor],
    teacher_spatial: Sequence[Tensor],
    teacher_frequency: Sequence[Tensor],
    normalize: FeatureNorm = "l2",
) -> Tensor:
    """Domain-level distillation: MFKD on the spatial pyramid F_s^l and on the frequency pyramid F_f^l, averaged."""
    return 0.5 * (
        mfkd_loss(student_spatial, teacher_spatial, normalize)
        + mfkd_loss(student_frequency, teacher_frequency, normalize)
    )


def relational_loss(student_embedding: Tensor, teacher_embedding: Tensor) -> Tensor:
    """Relational distillation: mean squared difference of the batch's pairwise cosine-similarity matrices.

    student_embedding, teacher_embedding (N, D): the fused embeddings g. Batches of fewer
    than two samples have no pairs and give zero.
    """
    if student_embedding.shape[0] < 2:
        return _zero_like(student_embedding)
    s = F.normalize(student_embedding.float(), dim=1)
    t = F.normalize(teacher_embedding.detach().float(), dim=1)
    return (s @ s.T - t @ t.T).pow(2).mean()
