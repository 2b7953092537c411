"""Writing the model directory (weights + metadata) and the output data (metrics, plots)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from inference import META_FILE, MODEL_FILE

METRICS_FILE = "metrics.json"
LOSS_PLOT = "loss_curves.png"
ROC_PLOT = "roc_curve.png"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def save_model(model_dir: Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """``model.pt`` (the MLP's state_dict) and ``model_meta.json`` (everything needed to rebuild and use it)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    temporary = model_dir / f".{MODEL_FILE}.tmp"
    torch.save({name: tensor.detach().cpu() for name, tensor in state_dict.items()}, temporary)
    os.replace(temporary, model_dir / MODEL_FILE)
    _write_json(model_dir / META_FILE, meta)


def save_outputs(
    output_dir: Path,
    *,
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
    roc: tuple[list[float], list[float]],
    roc_title: str,
    roc_auroc: float,
) -> None:
    """``metrics.json``, the loss curve and the ROC curve PNGs."""
    import plots  # noqa: PLC0415 - matplotlib is slow to import; only rank 0 needs it, at the end

    output_dir.mkdir(parents=True, exist_ok=True)
    _write_json(output_dir / METRICS_FILE, metrics)
    if history:
        plots.plot_losses(history, output_dir / LOSS_PLOT)
    plots.plot_roc(roc[0], roc[1], roc_auroc, roc_title, output_dir / ROC_PLOT)
