"""Writing the model directory (weights, metadata, serving code) and the output data (metrics, plots).

The model directory becomes the job's ``model.tar.gz``; with ``code/inference.py`` and the modules
it imports inside, the registered model serves in the PyTorch inference container without a repack.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from inference import META_FILE, MODEL_FILE

SOURCE_DIR = Path(__file__).resolve().parent
SERVING_ENTRY_POINT = "inference.py"
CODE_DIR = "code"  # SageMaker PyTorch serving reads <model dir>/code/ (SAGEMAKER_SUBMIT_DIRECTORY)

METRICS_FILE = "metrics.json"
LOSS_PLOT = "loss_curves.png"
ROC_PLOT = "roc_curve.png"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(node: ast.AST) -> list[ast.AST]:
    """``node`` and all nodes under it, except the bodies of ``if TYPE_CHECKING:`` blocks."""
    found, pending = [], [node]
    while pending:
        current = pending.pop()
        found.append(current)
        if isinstance(current, ast.If) and _is_type_checking(current.test):
            pending += current.orelse
        else:
            pending += ast.iter_child_nodes(current)
    return found


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the absolute imports that run in ``path``, function-level ones included."""
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def serving_modules(source_dir: Path = SOURCE_DIR) -> list[Path]:
    """``inference.py`` and every module of ``source_dir`` it imports, directly or not, sorted by name."""
    found: dict[str, Path] = {}
    pending = [source_dir / SERVING_ENTRY_POINT]
    while pending:
        path = pending.pop()
        if path.name not in found:
            found[path.name] = path
            local = (source_dir / f"{name}.py" for name in imported_modules(path))
            pending += [module for module in local if module.is_file()]
    return sorted(found.values(), key=lambda path: path.name)


def write_serving_code(model_dir: Path, source_dir: Path = SOURCE_DIR) -> Path:
    """Replace ``<model_dir>/code/`` with exactly the serving modules; returns that folder.

    The files are written into a hidden folder first, which then takes the place of ``code/``, so a
    crash never leaves a half-written ``code/``, and no stale module (or requirements.txt) survives.
    """
    code_dir, staging, retired = (model_dir / name for name in (CODE_DIR, f".{CODE_DIR}.tmp", f".{CODE_DIR}.old"))
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)
    for module in serving_modules(source_dir):
        shutil.copyfile(module, staging / module.name)
    if code_dir.exists():
        os.replace(code_dir, retired)
    os.replace(staging, code_dir)
    shutil.rmtree(retired, ignore_errors=True)
    return code_dir


def save_model(model_dir: Path, state_dict: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """``model.pt`` (the MLP's state_dict), ``model_meta.json`` (everything needed to rebuild and use it)
    and ``code/`` (the serving hooks and the modules they import)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    temporary = model_dir / f".{MODEL_FILE}.tmp"
    torch.save({name: tensor.detach().cpu() for name, tensor in state_dict.items()}, temporary)
    os.replace(temporary, model_dir / MODEL_FILE)
    _write_json(model_dir / META_FILE, meta)
    write_serving_code(model_dir)


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
