"""Training entry point: an MLP binary classifier on parquet channels, run by SageMaker or torchrun.

Hyperparameters come as ``--name value`` (see ``contract.py``); paths come from the SageMaker
environment: ``SM_CHANNEL_<NAME>``, ``SM_MODEL_DIR``, ``SM_OUTPUT_DATA_DIR``, ``CHECKPOINT_DIR``.
Each epoch logs one scrapeable metric line, saves a checkpoint and checks early stopping on val AUROC.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

# Idle OpenMP threads must sleep, not spin: spinning threads of small MLP steps starve each other on
# shared or virtualized CPUs (50x slower measured with 2 threads). Set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import artifacts
import contract
import distributed
import torch
from checkpoints import capture_rng_state, fingerprint
from engine import evaluate, train_one_epoch
from failure import TrainingError, report_failure
from hparams import hyperparameters_of, parse_args
from job import Job, prepare, seed_all
from metrics import BinaryEvaluator
from resume import Progress
from torch import nn
from torch.nn.parallel import DistributedDataParallel

SYNC_TOLERANCE = 1e-5
"""Largest relative difference of the ranks' weight sums after training before the job fails."""


def env_path(name: str, default: str) -> Path:
    """A directory from the environment, with SageMaker's default."""
    return Path(os.environ.get(name) or default)


def log(message: str, ctx: distributed.DistContext) -> None:
    """Print on rank 0 only, flushed (stdout is what SageMaker scrapes)."""
    if ctx.is_main:
        print(message, flush=True)


def train(args: argparse.Namespace) -> None:
    """Run the whole job: load data, train with checkpoints and early stopping, write artifacts."""
    hp = hyperparameters_of(args)
    ctx = distributed.setup()
    try:
        seed_all(hp["seed"])
        job, progress = prepare(args, hp, ctx, lambda message: log(message, ctx))
        _run_epochs(job, progress)
        _finish(job, progress)
    finally:
        distributed.teardown()


def _checkpoint(job: Job, progress: Progress) -> None:
    """Save this epoch's state on rank 0, with every rank's RNG state (a collective: all ranks call it).

    A failed write stops every rank with its reason: a rank that stopped alone would leave the others
    waiting in their next collective until the process-group timeout.
    """
    rng = distributed.all_gather_object(capture_rng_state(job.ctx.device), job.ctx)

    def save() -> None:
        try:
            job.manager.save({
                **asdict(progress), "model": job.model.state_dict(), "optimizer": job.optimizer.state_dict(),
                "rng": rng, "standardizer": job.standardizer.to_dict(), "feature_columns": job.features,
                "hidden_sizes": job.hp["hidden_sizes"], "hyperparameters": job.hp,
                "settings": job.settings, "fingerprint": fingerprint(job.settings),
            })  # fmt: skip
        except (OSError, RuntimeError) as error:
            raise TrainingError(
                f"cannot write the checkpoint of epoch {progress.epoch} to {job.manager.directory}: "
                f"{type(error).__name__}: {error}; check that folder's free space and permissions"
            ) from None

    distributed.agreed(save, job.ctx, where="on rank {rank}")


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
            precision=job.precision,
        )  # fmt: skip
        train_loss = distributed.all_reduce_mean(loss_sum, seen, ctx)
        if not math.isfinite(train_loss):
            raise TrainingError(
                f"training diverged in epoch {epoch}: train_loss is {train_loss}; "
                f"lower learning_rate (now {hp['learning_rate']})"
            )
        evaluator = BinaryEvaluator(hp["decision_threshold"], ctx.device)
        val = evaluate(model, job.loaders["val"], evaluator, loss_fn, job.precision)
        if not math.isfinite(val["auroc"]):
            raise TrainingError(f"val AUROC is undefined in epoch {epoch}: the val channel holds a single class")
        row = {"train_loss": train_loss, "val_loss": val["loss"], "val/f1_score": val["f1_score"],
               "val/auroc": val["auroc"]}  # fmt: skip
        log(contract.format_metric_line(row, prefix=f"epoch={epoch}/{hp['epochs']}"), ctx)
        progress.history.append({"epoch": epoch, **row})
        progress.epoch = epoch
        if val["auroc"] > progress.best_auroc:
            progress.best_auroc, progress.best_epoch, progress.bad_epochs = val["auroc"], epoch, 0
            progress.best_model = {
                name: value.detach().to("cpu", copy=True) for name, value in model.state_dict().items()
            }
        else:
            progress.bad_epochs += 1
        progress.stopped_early = progress.bad_epochs >= hp["patience"] and epoch < hp["epochs"]
        _checkpoint(job, progress)
        if progress.stopped_early:
            log(
                f"early stopping after epoch {epoch}: no val AUROC improvement for {progress.bad_epochs} epochs "
                f"(best epoch {progress.best_epoch})",
                ctx,
            )
        if job.args.pause_after_epoch:
            time.sleep(job.args.pause_after_epoch)
    _check_ranks_in_sync(job)


def _check_ranks_in_sync(job: Job) -> None:
    """Fail when DDP left the ranks with different weights: the saved model would be rank 0's alone."""
    if not job.ctx.distributed:
        return
    divergence = distributed.weight_divergence(job.model, job.ctx)
    if divergence > SYNC_TOLERANCE:
        raise TrainingError(
            f"the {job.ctx.world_size} ranks hold different weights after training (relative difference "
            f"{divergence:.2e}): gradients were not synchronized"
        )
    log(f"weights identical on all {job.ctx.world_size} ranks (relative difference {divergence:.1e})", job.ctx)


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
            final[name] = evaluate(model, job.loaders[name], evaluator, loss_fn, job.precision)
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
        "feature_types": job.plan.feature_types(),
        "excluded_columns": [{"name": c.name, "type": c.type, "reason": c.reason} for c in job.plan.excluded],
        "standardization": job.standardizer.to_dict(), "decision_threshold": hp["decision_threshold"],
        "best_epoch": progress.best_epoch, "metrics": final, "torch_version": torch.__version__,
        "data_loading": job.sources.mode,
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
        # Not rank 0's to overwrite: a rank that failed first with the real cause may have written it
        # already, and rank 0 would only see the transport error its absence caused.
        report_failure(f"unexpected error: {type(error).__name__}: {error}", overwrite=False)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
