"""Resuming only into the same training: the settings a checkpoint must match, and restoring it.

SageMaker retries a failed step and restarts spot-interrupted jobs with the same checkpoint
folder, so those resume. A checkpoint whose settings differ (another learning rate, other
features, other data or world size) is set aside instead: resuming it would silently
continue a different training, e.g. rerun ``make train-local`` with a new learning rate and get
"continuing with epoch 6/5" and an untrained model recorded under the new hyperparameters. The data
counts by content, not only by row counts: new data under a fixed ``checkpoint_uri`` (or new
``local_data`` with ``make train-local RESUME=1``) would otherwise "finish" the old run and register
the old model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import distributed
import torch
from checkpoints import FRESH_START, CheckpointManager, fingerprint, restore_rng_state
from data import DataPlan
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


def training_settings(hp: dict[str, Any], plan: DataPlan, ctx: distributed.DistContext, steps: int) -> dict[str, Any]:
    """Everything that shapes training: a checkpoint resumes only into a run with the same settings.

    ``data`` holds each channel's file count, bytes and a digest of its file names, sizes and parquet
    footers (``ChannelFiles.fingerprint``).
    """
    return {
        "hyperparameters": {name: value for name, value in hp.items() if name not in NOT_SHAPING},
        "feature_columns": plan.features,
        "rows": {name: channel.rows for name, channel in plan.channels.items()},
        "data": plan.fingerprint(),
        "world_size": ctx.world_size,
        "max_steps_per_epoch": steps,
    }


def resume_state(
    manager: CheckpointManager, settings: dict[str, Any], fresh: bool, ctx: distributed.DistContext
) -> dict[str, Any] | None:
    """Rank 0 picks the newest checkpoint of these settings (or sets all aside with ``fresh``); every rank
    loads the file of that name from its own checkpoint folder, and if any rank cannot, every rank stops.

    On several instances each host has its own ``/opt/ml/checkpoints``: SageMaker restores the
    checkpoint S3 prefix "to checkpoint_local_path in each instance of the new training job" (Resume
    training from a checkpoint, https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints-resume.html).
    """
    found = None
    if ctx.is_main and fresh:
        moved = manager.set_aside([path for _, path in manager.checkpoints()], FRESH_START)
        if moved:
            print(f"--fresh: moved the existing checkpoints to {moved}; starting at epoch 1", flush=True)
    elif ctx.is_main:
        found = manager.resumable(settings)
    chosen = distributed.broadcast_from_main(found[1].name if found else None, ctx)
    if chosen is None:
        return None

    def load() -> dict[str, Any]:
        if found is not None:
            return found[0]
        path = manager.directory / chosen
        state = manager.load(path)
        if state is None or state.get("fingerprint") != fingerprint(settings):
            problem = "cannot read" if state is None else "has other settings than"
            raise TrainingError(
                f"checkpoint {path} {problem} the one rank 0 resumes from; every instance needs the same "
                "checkpoints (SageMaker restores checkpoint_s3_uri into each instance's checkpoint folder)"
            )
        return state

    return distributed.agreed(load, ctx, where="on rank {rank}")


def restore(
    state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, ctx: distributed.DistContext
) -> Progress:
    """Load a (CPU) checkpoint into the model and optimizer on ``ctx.device`` and restore this rank's RNG."""
    model.load_state_dict(state["model"])  # copies into the parameters, on their device
    optimizer.load_state_dict(state["optimizer"])  # moves the moments to the parameters' device
    rng = state["rng"]
    restore_rng_state(rng[ctx.rank] if isinstance(rng, list) else rng, ctx.device)
    return Progress(**{item.name: state[item.name] for item in fields(Progress)})
