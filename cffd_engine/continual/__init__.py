"""Continual learning: replay buffer and selection, strategies (FT, LwF, EWC, ER, iCaRL, CFFD), trainer, metrics.

The wizard and the CLI call ``learn_task`` / ``train_first_task`` and get a
``Candidate`` (a staged bundle plus its ``UpdateReport``) to accept or discard;
``cffd_engine.continual.benchmark`` runs the paper's comparison.
"""

from cffd_engine.continual.buffer import DEFAULT_BUDGET, ReplayBuffer
from cffd_engine.continual.candidate import BaseModel, Candidate, TaskData
from cffd_engine.continual.config import (
    STRATEGY_NAMES,
    ContinualSettings,
    StrategyConfig,
    TrainSettings,
    update_settings,
)
from cffd_engine.continual.evaluate import Evaluation, Predictions, binary_auc, evaluate, predict
from cffd_engine.continual.metrics import ContinualMetrics
from cffd_engine.continual.report import UpdateReport
from cffd_engine.continual.samples import (
    SampleError,
    SampleSet,
    from_arrays,
    load_images,
    load_labelled_folder,
)
from cffd_engine.continual.selection import (
    HerdingSelection,
    HybridSelection,
    RandomSelection,
    Ranking,
    SelectionStrategy,
    selection_from_dict,
)
from cffd_engine.continual.session import first_buffer, learn_task, train_first_task
from cffd_engine.continual.strategies import (
    CFFD,
    EWC,
    STRATEGIES,
    ExperienceReplay,
    FineTuning,
    ICaRL,
    LwF,
    Strategy,
    build_strategy,
)
from cffd_engine.continual.trainer import Progress, Trainer, TrainerCallback, TrainSummary
from cffd_engine.continual.validation import ValidationSets, hold_out, source_of

__all__ = [
    "CFFD",
    "DEFAULT_BUDGET",
    "EWC",
    "STRATEGIES",
    "STRATEGY_NAMES",
    "BaseModel",
    "Candidate",
    "ContinualMetrics",
    "ContinualSettings",
    "Evaluation",
    "ExperienceReplay",
    "FineTuning",
    "HerdingSelection",
    "HybridSelection",
    "ICaRL",
    "LwF",
    "Predictions",
    "Progress",
    "RandomSelection",
    "Ranking",
    "ReplayBuffer",
    "SampleError",
    "SampleSet",
    "SelectionStrategy",
    "Strategy",
    "StrategyConfig",
    "TaskData",
    "TrainSettings",
    "TrainSummary",
    "Trainer",
    "TrainerCallback",
    "UpdateReport",
    "ValidationSets",
    "binary_auc",
    "build_strategy",
    "evaluate",
    "from_arrays",
    "hold_out",
    "source_of",
    "first_buffer",
    "learn_task",
    "load_images",
    "load_labelled_folder",
    "predict",
    "selection_from_dict",
    "train_first_task",
    "update_settings",
]
