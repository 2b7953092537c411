"""The MLP binary classifier and the feature standardizer fit on the train channel.

Standardization statistics are computed in chunks and merged (``Moments``), so they can be fit on
every rank's shard and combined, and applied in place: the trainer never holds a second copy of
the feature matrix.
"""

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


STATS_CHUNK_ROWS = 16_384
"""Rows per chunk when computing statistics or standardizing: float64 temporaries stay a few MiB."""


@dataclass(frozen=True)
class Moments:
    """Per-feature count, mean and sum of squared deviations (float64), mergeable across chunks and ranks."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray) -> Moments:
        """Moments of ``features`` (rows are samples), computed chunk by chunk: no full-size float64 copy."""
        total = cls(0, np.zeros(features.shape[1]), np.zeros(features.shape[1]))
        for start in range(0, len(features), STATS_CHUNK_ROWS):
            chunk = features[start : start + STATS_CHUNK_ROWS].astype(np.float64)
            mean = chunk.mean(axis=0)
            total = total.merge(cls(len(chunk), mean, ((chunk - mean) ** 2).sum(axis=0)))
        return total

    def merge(self, other: Moments) -> Moments:
        """Combined moments of two disjoint row sets (Chan et al.'s parallel update, numerically stable)."""
        if not other.count:
            return self
        if not self.count:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / count)
        return Moments(count, mean, m2)


@dataclass
class Standardizer:
    """Per-feature ``(x - mean) / std`` (population std; a zero std counts as one), computed in float64.

    ``mean`` and ``std`` are float64 and describe the raw column values, so an int64 column such as
    epoch milliseconds keeps its precision: the subtraction happens in float64 and only the
    standardized value, a number near zero, is cast to float32. Serving does the same (``transform``).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def from_moments(cls, moments: Moments, offsets: np.ndarray | None = None) -> Standardizer:
        """The standardizer of rows with these moments, computed on values minus ``offsets`` (see ``decode``)."""
        std = np.sqrt(moments.m2 / max(moments.count, 1))
        std[std == 0] = 1.0
        mean = moments.mean + (0.0 if offsets is None else offsets)
        return cls(np.asarray(mean, dtype=np.float64), std.astype(np.float64))

    @classmethod
    def fit(cls, features: np.ndarray, offsets: np.ndarray | None = None) -> Standardizer:
        """Fit the mean and std of ``features`` (rows are samples; values minus ``offsets``)."""
        return cls.from_moments(Moments.of(features), offsets)

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Standardized float32 copy of raw ``features`` (any numeric dtype; float64 keeps int64 precision)."""
        out: np.ndarray = np.subtract(features, self.mean, dtype=np.float64)
        out /= self.std
        return np.ascontiguousarray(out, dtype=np.float32)

    def transform_inplace(self, features: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
        """Standardize a float32 matrix of values minus ``offsets`` in place, in float64 chunks; returns it."""
        shifted_mean = self.mean - (0.0 if offsets is None else offsets)
        for start in range(0, len(features), STATS_CHUNK_ROWS):
            chunk = features[start : start + STATS_CHUNK_ROWS]
            chunk[:] = (chunk - shifted_mean) / self.std  # float32 - float64: computed in float64, then cast
        return features

    def to_dict(self) -> dict[str, list[float]]:
        """JSON- and checkpoint-friendly form (float64 values; JSON keeps them exactly)."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        """Inverse of ``to_dict``."""
        return cls(np.asarray(data["mean"], dtype=np.float64), np.asarray(data["std"], dtype=np.float64))
