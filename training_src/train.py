"""Training entry point: an MLP binary classifier on parquet channels, run by SageMaker or torchrun.

Hyperparameters come as ``--name value`` (see ``contract.py``); paths come from the SageMaker
environment: ``SM_CHANNEL_<NAME>``, ``SM_MODEL_DIR``, ``SM_OUTPUT_DATA_DIR``, ``CHECKPOINT_DIR``.
Each epoch logs one scrapeable metric line, saves a checkpoint and checks early stopping on val AUROC.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# Idle OpenMP threads must sleep, not spin: spinning threads of small MLP steps starve each other on
# shared or virtualized CPUs (50x slower measured with 2 threads). Set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import artifacts
import contract
import distributed
import numpy as np
import torch
from checkpoints import CheckpointManager, capture_rng_state, restore_rng_state
from data import load_channels
from engine import BatchLoader, evaluate, train_one_epoch
from failure import TrainingError, report_failure
from hparams import hyperparameters_of, parse_args
from metrics import BinaryEvaluator
from model import MLP, Standardizer
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def env_path(name: str, default: str) -> Path:
    """A directory from the environment, with SageMaker's default."""
    return Path(os.environ.get(name) or default)


def log(message: str, ctx: distributed.DistContext) -> None:
    """Print on rank 0 only, flushed (stdout is what SageMaker scrapes)."""
    if ctx.is_main:
        print(message, flush=True)


@dataclass
class Progress:
    """Training state carried across epochs and checkpoints."""

    epoch: int = 0
    best_auroc: float = -1.0
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best_model: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Job:
    """Everything one training run works with."""

    args: argparse.Namespace
    hp: dict[str, Any]
    ctx: distributed.DistContext
    features: list[str]
    standardizer: Standardizer
    model: MLP
    optimizer: torch.optim.Optimizer
    manager: CheckpointManager
    loaders: dict[str, BatchLoader]


def _resume(
    manager: CheckpointManager, hp: dict[str, Any], features: list[str], ctx: distributed.DistContext
) -> dict[str, Any] | None:
    """Rank 0 picks the newest valid checkpoint; every rank loads that same file."""

    def validate(state: dict[str, Any]) -> str | None:
        if state.get("feature_columns") != features:
            return f"feature columns {state.get('feature_columns')} differ from this run's {features}"
        if state.get("hidden_sizes") != hp["hidden_sizes"]:
            return f"hidden_sizes {state.get('hidden_sizes')} differ from this run's {hp['hidden_sizes']}"
        return None

    found = manager.load_latest(ctx.device, validate) if ctx.is_main else None
    chosen = distributed.broadcast_from_main(str(found[1]) if found else None, ctx)
    if chosen is None:
        return None
    if found is not None:
        return found[0]
    state = manager.load(Path(chosen), ctx.device)
    if state is None:
        raise TrainingError(f"rank {ctx.rank}: cannot read checkpoint {chosen} that rank 0 resumed from")
    return state


def train(args: argparse.Namespace) -> None:
    """Run the whole job: load data, train with checkpoints and early stopping, write artifacts."""
    hp = hyperparameters_of(args)
    ctx = distributed.setup()
    try:
        random.seed(hp["seed"])
        np.random.seed(hp["seed"])
        torch.manual_seed(hp["seed"])
        job, progress = _prepare(args, hp, ctx)
        _run_epochs(job, progress)
        _finish(job, progress)
    finally:
        distributed.teardown()


def _prepare(args: argparse.Namespace, hp: dict[str, Any], ctx: distributed.DistContext) -> tuple[Job, Progress]:
    """Load the data, build the model and optimizer, and restore the latest checkpoint if any."""
    channels, features = load_channels(hp["label_column"], hp["feature_columns"])
    rows = ", ".join(f"{name} {len(data.labels)} rows" for name, data in channels.items())
    log(
        f"data: {rows}; {len(features)} features {features}; device {ctx.device}, "
        f"world size {ctx.world_size}, {torch.get_num_threads()} threads",
        ctx,
    )
    checkpoint_dir = env_path("CHECKPOINT_DIR", contract.CHECKPOINT_LOCAL_PATH)
    try:
        manager = CheckpointManager(checkpoint_dir, writer=ctx.is_main)
    except OSError as error:
        raise TrainingError(f"checkpoint directory {checkpoint_dir} is not writable: {error}") from None
    resumed = _resume(manager, hp, features, ctx)
    if resumed:
        standardizer = Standardizer.from_dict(resumed["standardizer"])
    else:
        standardizer = Standardizer.fit(channels["train"].features)
    tensors = {
        name: (
            torch.from_numpy(standardizer.transform(data.features)).to(ctx.device),
            torch.from_numpy(data.labels).to(ctx.device),
        )
        for name, data in channels.items()
    }
    model = MLP(len(features), hp["hidden_sizes"], hp["dropout"]).to(ctx.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=hp["learning_rate"], weight_decay=hp["weight_decay"])
    progress = Progress()
    if resumed:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        restore_rng_state(resumed["rng"])
        progress = Progress(**{item.name: resumed[item.name] for item in fields(Progress)})
        log(
            f"resumed from epoch {progress.epoch} (checkpoint in {checkpoint_dir}); "
            f"continuing with epoch {progress.epoch + 1}/{hp['epochs']}",
            ctx,
        )
    loaders = {
        name: BatchLoader(*pair, hp["batch_size"], shuffle=False, world_size=ctx.world_size, rank=ctx.rank)
        for name, pair in tensors.items()
    }
    loaders["train_shuffled"] = BatchLoader(
        *tensors["train"], hp["batch_size"], shuffle=True, seed=hp["seed"], world_size=ctx.world_size, rank=ctx.rank
    )
    return Job(args, hp, ctx, features, standardizer, model, optimizer, manager, loaders), progress


def _run_epochs(job: Job, progress: Progress) -> None:
    """Train until ``epochs`` or early stopping; log metrics and checkpoint after every epoch."""
    hp, ctx, model = job.hp, job.ctx, job.model
    trained: nn.Module = model
    if ctx.distributed:
        trained = DistributedDataParallel(model, device_ids=[ctx.device] if ctx.device.type == "cuda" else None)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(progress.epoch + 1, hp["epochs"] + 1):
        if progress.stopped_early:
            break
        loss_sum, seen = train_one_epoch(
            trained, job.loaders["train_shuffled"], job.optimizer, loss_fn, epoch=epoch, epochs=hp["epochs"],
            log_interval=hp["log_interval_steps"], max_steps=job.args.max_steps_per_epoch, log=ctx.is_main,
        )  # fmt: skip
        train_loss = distributed.all_reduce_mean(loss_sum, torch.tensor(float(seen)), ctx)
        val = evaluate(model, job.loaders["val"], BinaryEvaluator(hp["decision_threshold"], ctx.device), loss_fn)
        row = {"train_loss": train_loss, "val_loss": val["loss"], "val/f1_score": val["f1_score"],
               "val/auroc": val["auroc"]}  # fmt: skip
        log(contract.format_metric_line(row, prefix=f"epoch={epoch}/{hp['epochs']}"), ctx)
        progress.history.append({"epoch": epoch, **row})
        progress.epoch = epoch
        if val["auroc"] > progress.best_auroc:
            progress.best_auroc, progress.best_epoch, progress.bad_epochs = val["auroc"], epoch, 0
            progress.best_model = {name: value.detach().clone() for name, value in model.state_dict().items()}
        else:
            progress.bad_epochs += 1
        progress.stopped_early = progress.bad_epochs >= hp["patience"] and epoch < hp["epochs"]
        job.manager.save({
            **asdict(progress), "model": model.state_dict(), "optimizer": job.optimizer.state_dict(),
            "rng": capture_rng_state(), "standardizer": job.standardizer.to_dict(),
            "feature_columns": job.features, "hidden_sizes": hp["hidden_sizes"], "hyperparameters": hp,
        })  # fmt: skip
        if progress.stopped_early:
            log(
                f"early stopping after epoch {epoch}: no val AUROC improvement for {progress.bad_epochs} epochs "
                f"(best epoch {progress.best_epoch})",
                ctx,
            )
        if job.args.pause_after_epoch:
            time.sleep(job.args.pause_after_epoch)


def _finish(job: Job, progress: Progress) -> None:
    """Evaluate the best model on val (and test) and write the model and output artifacts on rank 0."""
    hp, ctx, model = job.hp, job.ctx, job.model
    model.load_state_dict(progress.best_model)
    loss_fn = nn.BCEWithLogitsLoss()
    final: dict[str, dict[str, float]] = {}
    roc_source = "test" if "test" in job.loaders else "val"
    roc: tuple[list[float], list[float]] = ([], [])
    for name in ("val", "test"):
        if name in job.loaders:
            evaluator = BinaryEvaluator(hp["decision_threshold"], ctx.device, with_roc=name == roc_source)
            final[name] = evaluate(model, job.loaders[name], evaluator, loss_fn)
            if name == roc_source:
                roc = evaluator.roc_curve()
    selected = {"selected_val_auroc": final["val"]["auroc"]}
    if "test" in final:
        selected |= {"test/f1_score": final["test"]["f1_score"], "test/auroc": final["test"]["auroc"]}
    log(contract.format_metric_line(selected, prefix=f"final (best epoch {progress.best_epoch}):"), ctx)
    if not ctx.is_main:
        return
    metrics = {
        "best_epoch": progress.best_epoch, "epochs_run": progress.epoch, "stopped_early": progress.stopped_early,
        "final": final, "history": progress.history, "hyperparameters": hp,
    }  # fmt: skip
    meta = {
        "architecture": {"type": "mlp", "input_dim": len(job.features), "hidden_sizes": hp["hidden_sizes"],
                         "dropout": hp["dropout"]},
        "feature_columns": job.features, "label_column": hp["label_column"],
        "standardization": job.standardizer.to_dict(), "decision_threshold": hp["decision_threshold"],
        "best_epoch": progress.best_epoch, "metrics": final, "torch_version": torch.__version__,
    }  # fmt: skip
    model_dir = env_path("SM_MODEL_DIR", "/opt/ml/model")
    artifacts.save_model(model_dir, progress.best_model, meta)
    output_dir = env_path("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")
    artifacts.save_outputs(
        output_dir, metrics=metrics, history=progress.history, roc=roc, roc_title=f"ROC ({roc_source})",
        roc_auroc=final[roc_source]["auroc"],
    )  # fmt: skip
    log(f"saved model to {model_dir} and metrics/plots to {output_dir}", ctx)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and train; bad data or settings exit 1 with a one-line reason."""
    main_rank = os.environ.get("RANK", "0") == "0"
    try:
        train(parse_args(argv))
    except TrainingError as error:
        report_failure(str(error), overwrite=main_rank)
        return 1
    except Exception as error:
        report_failure(f"unexpected error: {type(error).__name__}: {error}", overwrite=main_rank)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
