"""How a benchmark result is shown: the paper-style Markdown table and a PNG of the accuracy matrices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cffd_engine.fileio import atomic_write_bytes
from cffd_engine.model import preset

if TYPE_CHECKING:
    from cffd_engine.continual.benchmark import BenchmarkResult
    from cffd_engine.continual.experiment import ExperimentResult


def _fmt(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.4f}"


def markdown_table(result: BenchmarkResult, split: str = "test") -> str:
    """Rows = methods; columns = final accuracy per task, average ACC and AUC, old-task average,
    average forgetting and backward transfer (from the ``split`` matrices); best values in bold."""
    names = result.task_names
    videos = any(getattr(m, split).video_auc for m in result.methods)
    header = ["Method", *names, "Avg ACC", "Avg AUC", "Old-task ACC", "Forgetting ↓", "BWT"]
    header += ["Video AUC"] if videos else []
    rows, keys = [], []
    for method in result.methods:
        metrics = getattr(method, split)
        summary = metrics.summary()
        last = metrics.accuracy[-1] if metrics.accuracy else []
        cells = [_fmt(last[j] if j < len(last) else None) for j in range(len(names))]
        keys.append(
            (
                summary["final_accuracy"],
                summary["final_auc"],
                summary["old_task_accuracy"],
                summary["average_forgetting"],
            )
        )
        rows.append(
            [
                method.label,
                *cells,
                _fmt(summary["final_accuracy"]),
                _fmt(summary["final_auc"]),
                _fmt(summary["old_task_accuracy"]),
                _fmt(summary["average_forgetting"]),
                _signed(summary["backward_transfer"]),
            ]
            + ([_fmt(summary["final_video_auc"])] if videos else [])
        )
    offset = 1 + len(names)
    for column, better in enumerate((max, max, max, min)):
        values = [k[column] for k in keys if k[column] is not None]
        if len(values) > 1:
            best = better(values)
            for row, key in zip(rows, keys, strict=True):
                if key[column] is not None and abs(key[column] - best) < 1e-12:
                    row[offset + column] = f"**{row[offset + column]}**"
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + [":-:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    config = result.config
    model = preset(config.model_preset, **config.model_overrides)
    first = next(iter(result.task_sizes.values()), {})
    lines += [
        "",
        f"Final accuracy on each task's {split} split after the last task ({' -> '.join(names)}); "
        f"RSIA-Net '{config.model_preset}' ({model.spatial_backbone} backbones) at {model.input_size} px, "
        f"{config.train.epochs} epoch(s) per task ({config.first_task_epochs or config.train.epochs} on the first), "
        f"replay budget {config.replay_budget}, seed {config.seed}; per task {first.get('train', '?')} train / "
        f"{first.get('val', '?')} val / {first.get('test', '?')} test crops; {result.seconds / 60:.1f} min in all.",
    ]
    return "\n".join(lines) + "\n"


def plot_matrices(result: BenchmarkResult, path: Path, split: str = "test") -> Path | None:
    """One heat map of R[i][j] per method in a PNG; None (nothing written) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    import numpy as np

    names = result.task_names
    count = len(result.methods)
    columns = min(3, count)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.3 * rows), squeeze=False)
    for axis in axes.flat[count:]:
        axis.axis("off")
    for axis, method in zip(axes.flat, result.methods, strict=False):
        matrix = np.full((len(names), len(names)), np.nan)
        for i, row in enumerate(getattr(method, split).accuracy):
            for j, value in enumerate(row):
                if value is not None:
                    matrix[i, j] = value
        axis.imshow(matrix, vmin=0.5, vmax=1.0, cmap="viridis")
        for (i, j), value in np.ndenumerate(matrix):
            if not np.isnan(value):
                axis.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value < 0.8 else "black",
                )
        axis.set_title(method.label, fontsize=9)
        axis.set_xticks(range(len(names)), names, rotation=45, fontsize=7)
        axis.set_yticks(range(len(names)), [f"after {n}" for n in names], fontsize=7)
    figure.suptitle(f"Accuracy R[i][j] on the {split} split (row: after task i; column: task j)", fontsize=10)
    return _save(figure, path)


def seeds_table(result: ExperimentResult) -> str:
    """Rows = methods; each figure as mean ± standard deviation over the seeds (test split)."""
    from cffd_engine.continual.experiment import SUMMARY_FIGURES

    seeds = [run.config.seed for run in result.runs]
    header = ["Method", *SUMMARY_FIGURES.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + [":-:"] * (len(header) - 1)) + "|"]
    for figures in result.summary.values():
        cells = []
        for key in SUMMARY_FIGURES:
            mean, std = figures[key]["mean"], figures[key]["std"]
            cells.append("–" if mean is None else f"{mean:.4f} ± {std:.4f}")
        lines.append("| " + " | ".join([figures["label"], *cells]) + " |")
    names = result.runs[0].task_names if result.runs else []
    lines += [
        "",
        f"Mean ± sample standard deviation over seeds {seeds} of each figure on the test split after the last "
        f"task ({' -> '.join(names)}); each seed's table is in seed-<k>/table.md.",
    ]
    return "\n".join(lines) + "\n"


def plot_seeds_summary(result: ExperimentResult, path: Path) -> Path | None:
    """Bars of final accuracy and forgetting per method with their spread over seeds; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None

    labels = [figures["label"] for figures in result.summary.values()]
    figure, axes = plt.subplots(1, 2, figsize=(max(6.0, 1.1 * len(labels) * 2), 3.6))
    for axis, key, title in (
        (axes[0], "final_accuracy", "Final average accuracy"),
        (axes[1], "average_forgetting", "Average forgetting (lower is better)"),
    ):
        means = [figures[key]["mean"] or 0.0 for figures in result.summary.values()]
        spread = [figures[key]["std"] or 0.0 for figures in result.summary.values()]
        axis.bar(range(len(labels)), means, yerr=spread, capsize=3, color="#4a78a8")
        axis.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=7)
        axis.set_title(title, fontsize=9)
    figure.suptitle(f"Mean and standard deviation over {len(result.runs)} seed(s)", fontsize=10)
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    """The figure as a PNG at ``path`` (written atomically), then closed."""
    import io

    import matplotlib.pyplot as plt

    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path
