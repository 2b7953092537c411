"""Loss, F1 and AUROC with torchmetrics, which syncs its states across DDP ranks on ``compute``.

Every state lives on the evaluator's device and ``update`` never reads a value back to the host:
the loader has already checked that labels are 0/1 and probabilities come from a sigmoid, so
torchmetrics' per-batch argument checks (a device-to-host sync per batch on a GPU) are off.
"""

from __future__ import annotations

import math

import torch
from torchmetrics import MeanMetric
from torchmetrics.classification import BinaryAUROC, BinaryF1Score, BinaryROC


def finite_or_zero(value: float) -> float:
    """AUROC is undefined with one class present; report 0 instead of NaN so the log stays scrapeable."""
    return value if math.isfinite(value) and value >= 0 else 0.0


class BinaryEvaluator:
    """Accumulates logits and labels of one evaluation pass; optionally keeps the ROC curve."""

    def __init__(self, threshold: float, device: torch.device, with_roc: bool = False) -> None:
        self.threshold = threshold
        self.loss = MeanMetric(nan_strategy="disable").to(device)
        self.f1 = BinaryF1Score(validate_args=False).to(device)
        self.auroc = BinaryAUROC(validate_args=False).to(device)
        self.roc = BinaryROC(validate_args=False).to(device) if with_roc else None

    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss: torch.Tensor) -> None:
        """Add one batch: raw logits, 0/1 labels and the batch's mean loss."""
        probs = torch.sigmoid(logits)
        targets = labels.long()
        self.loss.update(loss, weight=labels.numel())
        self.f1.update((probs >= self.threshold).long(), targets)  # "at or above", as the hyperparameter says
        self.auroc.update(probs, targets)
        if self.roc is not None:
            self.roc.update(probs, targets)

    def compute(self) -> dict[str, float]:
        """``loss``, ``f1_score`` and ``auroc`` over every rank's samples."""
        return {
            "loss": finite_or_zero(float(self.loss.compute())),
            "f1_score": finite_or_zero(float(self.f1.compute())),
            "auroc": finite_or_zero(float(self.auroc.compute())),
        }

    def roc_curve(self) -> tuple[list[float], list[float]]:
        """False and true positive rates of the ROC curve (``with_roc`` only)."""
        if self.roc is None:
            raise ValueError("evaluator was built without with_roc")
        fpr, tpr, _ = self.roc.compute()
        return [float(v) for v in fpr.cpu()], [float(v) for v in tpr.cpu()]
