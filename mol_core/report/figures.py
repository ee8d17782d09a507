"""The experiment's figures, drawn with matplotlib's Figure API on their own Agg canvas (no
pyplot, so the process-wide backend and pyplot's figure list are left alone): the pooled
confusion matrix and every fold's training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..util.atomic import atomic_path


def _figure(width: float, height: float):
    """A matplotlib ``Figure`` drawn on its own Agg canvas (inches): no pyplot, so the
    process-wide backend and pyplot's figure list are left alone."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _save_figure(fig, path: str | Path, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


def plot_confusion(matrix: np.ndarray | None, class_names: list[str], path: str | Path, title: str) -> None:
    """Row-normalised confusion matrix (recall per true class) with the counts; without
    one (no MER head), a figure that says so."""
    if matrix is None:
        fig = _figure(4, 1.5)
        fig.text(0.5, 0.5, f"{title}\nno classification: the model has no MER head", ha="center", va="center")
        _save_figure(fig, path, dpi=120)
        return
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    size = 1.2 + 0.9 * len(class_names)
    fig = _figure(size + 1.5, size)
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=35, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            ax.text(
                j,
                i,
                f"{rates[i, j]:.2f}\n({matrix[i, j]})",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save_figure(fig, path, dpi=120)


def plot_curves(log_files: list[Path], path: str | Path, title: str) -> None:
    """Training loss and validation accuracy (or loss) of every fold against the step."""
    fig = _figure(10, 3.8)
    left, right = fig.subplots(1, 2)
    for log_file in log_files:
        log = pd.read_csv(log_file)
        fold = Path(log_file).parent.name
        # numpy arrays, not Series: plotting a Series lets pandas import pyplot
        left.plot(log.step.to_numpy(), log.loss.to_numpy(), lw=1, label=fold)
        val = log[log.val_loss.notna()]
        column = "val_acc" if val.val_acc.notna().any() else "val_loss"
        right.plot(val.step.to_numpy(), val[column].to_numpy(), marker="o", ms=3, lw=1, label=fold)
        right.set_ylabel("validation accuracy" if column == "val_acc" else "validation loss")
    left.set_xlabel("step")
    left.set_ylabel("training loss (eq. 9)")
    right.set_xlabel("step")
    if 0 < len(log_files) <= 12:
        right.legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    _save_figure(fig, path, dpi=110)
