"""Loss, F1 and AUROC with torchmetrics, which syncs its states across DDP ranks on ``compute``.

Every state lives on the evaluator's device and ``update`` never reads a value back to the host:
the loader has already checked that labels are 0/1 and probabilities come from a sigmoid, so
torchmetrics' per-batch argument checks (a device-to-host sync per batch on a GPU) are off.
"""

from __future__ import annotations

import math

import torch
from torchmetrics import MeanMetric, SumMetric
from torchmetrics.classification import BinaryAUROC, BinaryF1Score, BinaryROC


def finite_or_zero(value: float) -> float:
    """Loss and F1 as plain numbers: F1 is 0 when nothing is predicted positive (torchmetrics may give NaN)."""
    return value if math.isfinite(value) and value >= 0 else 0.0


def auroc_or_nan(value: float, positives: float, count: float) -> float:
    """AUROC, or NaN ("undefined") when the samples hold a single class: 0.0 would read as a model that is
    always wrong, and pass a quality gate of 0. The trainer refuses single-class channels before training."""
    return value if 0 < positives < count else math.nan


class BinaryEvaluator:
    """Accumulates logits and labels of one evaluation pass; optionally keeps the ROC curve."""

    def __init__(self, threshold: float, device: torch.device, with_roc: bool = False) -> None:
        self.threshold = threshold
        self.loss = MeanMetric(nan_strategy="disable").to(device)
        self.f1 = BinaryF1Score(validate_args=False).to(device)
        self.auroc = BinaryAUROC(validate_args=False).to(device)
        self.positives = SumMetric(nan_strategy="disable").to(device)
        self.samples = SumMetric(nan_strategy="disable").to(device)
        self.roc = BinaryROC(validate_args=False).to(device) if with_roc else None

    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        """Add one batch: raw logits, 0/1 labels and the batch's mean loss."""
        probs = torch.sigmoid(logits)
        targets = labels.long()
        self.loss.update(loss, weight=labels.numel())
        self.f1.update((probs >= self.threshold).long(), targets)  # "at or above", as the hyperparameter says
        self.auroc.update(probs, targets)
        self.positives.update(labels.sum())
        self.samples.update(torch.ones_like(labels).sum())
        if self.roc is not None:
            self.roc.update(probs, targets)

    def compute(self) -> dict[str, float]:
        """``loss``, ``f1_score`` and ``auroc`` (NaN when undefined) over every rank's samples."""
        positives, count = float(self.positives.compute()), float(self.samples.compute())
        return {
            "loss": finite_or_zero(float(self.loss.compute())),
            "f1_score": finite_or_zero(float(self.f1.compute())),
            "auroc": auroc_or_nan(float(self.auroc.compute()), positives, count),
        }

    def roc_curve(self) -> tuple[list[float], list[float]]:
        """False and true positive rates of the ROC curve (``with_roc`` only)."""
        if self.roc is None:
            raise ValueError("evaluator was built without with_roc")
        fpr, tpr, _ = self.roc.compute()
        return [float(v) for v in fpr.cpu()], [float(v) for v in tpr.cpu()]
