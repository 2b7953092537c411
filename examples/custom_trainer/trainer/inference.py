"""Serving for the churn model in SageMaker's PyTorch inference container (JSON rows in, probabilities out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch


def model_fn(model_dir: str) -> dict[str, Any]:
    saved = torch.load(Path(model_dir) / "model.pt", map_location="cpu", weights_only=False)
    model = torch.nn.Linear(len(saved["features"]), 1)
    model.load_state_dict(saved["state_dict"])
    return {**saved, "model": model.eval()}


def input_fn(body: str | bytes, content_type: str) -> list[dict[str, float]]:
    if content_type != "application/json":
        raise ValueError(f"unsupported content type {content_type}; send application/json rows")
    rows: list[dict[str, float]] = json.loads(body)
    return rows


def predict_fn(rows: list[dict[str, float]], saved: dict[str, Any]) -> list[float]:
    x = torch.tensor([[float(row[name]) for name in saved["features"]] for row in rows])
    with torch.no_grad():
        return torch.sigmoid(saved["model"]((x - saved["mean"]) / saved["std"]).squeeze(1)).tolist()


def output_fn(probabilities: list[float], accept: str) -> str:
    return json.dumps({"probabilities": probabilities})
