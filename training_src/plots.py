"""PNG plots of the loss curves and the ROC curve (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def loss_figure(history: list[dict[str, Any]]) -> Figure:
    """Train and validation loss per epoch; the x-axis ticks are whole epochs only."""
    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
    axes.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # no 1.5, 2.5, ... ticks between epochs
    axes.set_ylabel("binary cross-entropy")
    axes.set_title("Loss")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot_losses(history: list[dict[str, Any]], path: Path) -> None:
    """Write the loss figure as a PNG."""
    figure = loss_figure(history)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_roc(fpr: list[float], tpr: list[float], auroc: float, title: str, path: Path) -> None:
    """ROC curve with the chance diagonal."""
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(fpr, tpr, label=f"AUROC {auroc:.4f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title(title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
