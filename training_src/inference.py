"""Loading a trained model for prediction, plus SageMaker PyTorch serving hooks.

Example:
    >>> predictor = load_model("/opt/ml/model")
    >>> probabilities = predictor.predict_proba(dataframe)  # P(label == 1) per row
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
import torch
from model import MLP, Standardizer

MODEL_FILE = "model.pt"
META_FILE = "model_meta.json"


class Predictor:
    """The trained MLP with its standardization and feature order."""

    def __init__(self, model: MLP, standardizer: Standardizer, meta: dict[str, Any]) -> None:
        self.model = model.eval()
        self.standardizer = standardizer
        self.meta = meta
        self.feature_columns: list[str] = list(meta["feature_columns"])
        self.threshold = float(meta.get("decision_threshold", 0.5))

    def _matrix(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(data, pd.DataFrame):
            missing = [column for column in self.feature_columns if column not in data.columns]
            if missing:
                raise ValueError(f"input lacks feature columns {missing}")
            data = data[self.feature_columns].to_numpy(dtype=np.float32)
        matrix = np.asarray(data, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.shape[1] != len(self.feature_columns):
            raise ValueError(f"expected {len(self.feature_columns)} features, got {matrix.shape[1]}")
        return matrix

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row.

        Args:
            data: a DataFrame with (at least) the feature columns, or an array with them in training order.
        """
        features = torch.from_numpy(self.standardizer.transform(self._matrix(data)))
        with torch.no_grad():
            return torch.sigmoid(self.model(features)).numpy()

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """0/1 predictions at the training ``decision_threshold``."""
        return (self.predict_proba(data) >= self.threshold).astype(np.int64)


def load_model(model_dir: str | Path) -> Predictor:
    """Load ``model.pt`` and ``model_meta.json`` from ``model_dir`` (the job's ``SM_MODEL_DIR``)."""
    directory = Path(model_dir)
    meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    architecture = meta["architecture"]
    model = MLP(architecture["input_dim"], architecture["hidden_sizes"], architecture["dropout"])
    model.load_state_dict(torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True))
    return Predictor(model, Standardizer.from_dict(meta["standardization"]), meta)


def model_fn(model_dir: str) -> Predictor:
    """SageMaker PyTorch serving hook: load the model once per worker."""
    return load_model(model_dir)


def predict_fn(input_data: Any, predictor: Predictor) -> np.ndarray:
    """SageMaker PyTorch serving hook: probabilities for the decoded request (array or DataFrame)."""
    if isinstance(input_data, torch.Tensor):
        input_data = input_data.cpu().numpy()
    return predictor.predict_proba(input_data)
