"""PNG plots of the loss curves and the ROC curve (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def plot_losses(history: list[dict[str, Any]], path: Path) -> None:
    """Train and validation loss per epoch."""
    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
    axes.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
    axes.set_xlabel("epoch")
    axes.set_ylabel("binary cross-entropy")
    axes.set_title("Loss")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
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
