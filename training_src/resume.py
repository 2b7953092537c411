"""Resuming only into the same training: the settings a checkpoint must match, and restoring it.

SageMaker retries a failed step and restarts spot-interrupted jobs with the same checkpoint
folder, so those resume. A checkpoint whose settings differ (another learning rate, other
features, other row counts or world size) is set aside instead: resuming it would silently
continue a different training, e.g. rerun ``make train-local`` with a new learning rate and get
"continuing with epoch 6/5" and an untrained model recorded under the new hyperparameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import contract
import distributed
import torch
from checkpoints import FRESH_START, CheckpointManager, restore_rng_state
from data import ChannelData
from failure import TrainingError
from torch import nn

NOT_SHAPING = frozenset({"log_interval_steps"})
"""Hyperparameters that change only the logs; every other one is part of a checkpoint's fingerprint."""


@dataclass
class Progress:
    """Training state carried across epochs and checkpoints (``best_model`` on the CPU)."""

    epoch: int = 0
    best_auroc: float = -1.0
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best_model: dict[str, torch.Tensor] = field(default_factory=dict)


def training_settings(
    hp: dict[str, Any], features: list[str], channels: dict[str, ChannelData], ctx: distributed.DistContext, steps: int
) -> dict[str, Any]:
    """Everything that shapes training: a checkpoint resumes only into a run with the same settings."""
    return {
        "hyperparameters": {name: value for name, value in hp.items() if name not in NOT_SHAPING},
        "feature_columns": features,
        "rows": {name: channels[name].total_rows for name in contract.REQUIRED_CHANNELS},
        "world_size": ctx.world_size,
        "max_steps_per_epoch": steps,
    }


def resume_state(
    manager: CheckpointManager, settings: dict[str, Any], fresh: bool, ctx: distributed.DistContext
) -> dict[str, Any] | None:
    """Rank 0 picks the newest checkpoint of these settings (or sets all aside with ``fresh``); every rank loads it."""
    found = None
    if ctx.is_main and fresh:
        moved = manager.set_aside([path for _, path in manager.checkpoints()], FRESH_START)
        if moved:
            print(f"--fresh: moved the existing checkpoints to {moved}; starting at epoch 1", flush=True)
    elif ctx.is_main:
        found = manager.resumable(settings)
    chosen = distributed.broadcast_from_main(str(found[1]) if found else None, ctx)
    if chosen is None:
        return None
    if found is not None:
        return found[0]
    state = manager.load(Path(chosen))
    if state is None:
        raise TrainingError(f"rank {ctx.rank}: cannot read checkpoint {chosen} that rank 0 resumed from")
    return state


def restore(
    state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, ctx: distributed.DistContext
) -> Progress:
    """Load a (CPU) checkpoint into the model and optimizer on ``ctx.device`` and restore this rank's RNG."""
    model.load_state_dict(state["model"])  # copies into the parameters, on their device
    optimizer.load_state_dict(state["optimizer"])  # moves the moments to the parameters' device
    rng = state["rng"]
    restore_rng_state(rng[ctx.rank] if isinstance(rng, list) else rng, ctx.device)
    return Progress(**{item.name: state[item.name] for item in fields(Progress)})
