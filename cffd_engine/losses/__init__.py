"""Training losses: HSCL contrastive learning and the SLKD/MFKD distillation losses."""

from cffd_engine.losses.contrastive import (
    DEFAULT_TEMPERATURE,
    HSCLoss,
    HSCLTerms,
    ProjectionHead,
    sfcl_loss,
    sficl_loss,
)
from cffd_engine.losses.distill import (
    DEFAULT_KD_TEMPERATURE,
    domain_mfkd_loss,
    feature_distance,
    mfkd_loss,
    relational_loss,
    slkd_loss,
)

__all__ = [
    "DEFAULT_KD_TEMPERATURE",
    "DEFAULT_TEMPERATURE",
    "HSCLTerms",
    "HSCLoss",
    "ProjectionHead",
    "domain_mfkd_loss",
    "feature_distance",
    "mfkd_loss",
    "relational_loss",
    "sfcl_loss",
    "sficl_loss",
    "slkd_loss",
]
