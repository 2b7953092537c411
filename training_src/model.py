"""The MLP binary classifier and the feature standardizer fit on the train channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


class MLP(nn.Module):
    """Linear-ReLU-Dropout hidden layers and one output logit per sample."""

    def __init__(self, input_dim: int, hidden_sizes: list[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(n,)``."""
        logits: torch.Tensor = self.net(features)
        return logits.squeeze(-1)


@dataclass
class Standardizer:
    """Per-feature ``(x - mean) / std``; a zero std counts as one."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray) -> Standardizer:
        """Fit the mean and std of ``features`` (rows are samples)."""
        mean = features.mean(axis=0, dtype=np.float64)
        std = features.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Standardized float32 copy of ``features``, row-major whatever the input's memory order."""
        out: np.ndarray = np.subtract(features, self.mean, dtype=np.float32, order="C")
        out /= self.std
        return out

    def to_dict(self) -> dict[str, list[float]]:
        """JSON- and checkpoint-friendly form."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        """Inverse of ``to_dict``."""
        return cls(np.asarray(data["mean"], dtype=np.float32), np.asarray(data["std"], dtype=np.float32))
