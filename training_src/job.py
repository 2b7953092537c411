"""Setting up one training run: this rank's data (held or streamed), the standardizer, model, optimizer,
loaders and resume state.

Every step that can fail on one rank alone runs through ``distributed.agreed``, so every rank stops
with the same reason instead of waiting for the others until the process-group timeout.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import contract
import distributed
import memory_budget
import numpy as np
import torch
from batches import BatchLoader, StreamLoader
from checkpoints import CheckpointManager
from data import ChannelData, DataPlan, load_planned, plan_data
from engine import Loader, autocast_dtype, make_optimizer
from failure import TrainingError
from model import MLP, Moments, Standardizer
from resume import Progress, restore, resume_state, training_settings
from streaming import StreamedChannel

EVAL_BATCH_ROWS = 8192
"""Evaluation batches hold at least this many rows: no gradients are kept, so a small ``batch_size``
would only add per-batch overhead."""
DEVICE_DATA_FRACTION = 0.5
"""A GPU keeps the data when it takes at most this share of the GPU's free memory (shared by the ranks
on it); the rest is for the model, activations and evaluation."""


@dataclass
class Sources:
    """This rank's data: held in memory (``held``) or streamed (``streamed``), with its train moments
    and each channel's ``(rows, positives)``."""

    mode: str
    moments: Moments
    labels: dict[str, tuple[int, int]]
    held: dict[str, ChannelData] = field(default_factory=dict)
    streamed: dict[str, StreamedChannel] = field(default_factory=dict)


@dataclass
class Job:
    """Everything one training run works with."""

    args: argparse.Namespace
    hp: dict[str, Any]
    ctx: distributed.DistContext
    plan: DataPlan
    sources: Sources
    standardizer: Standardizer
    model: MLP
    optimizer: torch.optim.Optimizer
    manager: CheckpointManager
    loaders: dict[str, Loader]
    settings: dict[str, Any]
    precision: torch.dtype | None

    @property
    def features(self) -> list[str]:
        return self.plan.features


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's (CPU and every GPU's) generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def choose_loading(plan: DataPlan, hp: dict[str, Any], ctx: distributed.DistContext) -> tuple[str, str]:
    """``(mode, reason)``: held in memory or streamed, from this host's available memory (see ``memory_budget``)."""
    shares = {name: len(rows) for name, rows in plan.shares(ctx.rank, ctx.world_size).items()}
    largest_group = max(size for channel in plan.channels.values() for part in channel.parts
                        for size in (*part.group_bytes, 0))  # fmt: skip
    need = memory_budget.estimate(shares, len(plan.features), largest_group, memory_budget.resident_bytes())
    return memory_budget.choose(hp["data_loading"], need, memory_budget.available_memory(), ctx.local_world_size)


def load_sources(plan: DataPlan, mode: str, ctx: distributed.DistContext) -> Sources:
    """Read (``memory``) or scan (``stream``) this rank's share of every channel, checking every value."""
    if mode == "memory":
        held = load_planned(plan, ctx.rank, ctx.world_size)
        labels = {name: (len(data.labels), int(data.labels.sum())) for name, data in held.items()}
        return Sources(mode, Moments.of(held["train"].features), labels, held=held)
    shares = plan.shares(ctx.rank, ctx.world_size)
    streamed = {name: StreamedChannel(channel, plan, shares[name]) for name, channel in plan.channels.items()}
    scans = {name: source.scan() for name, source in streamed.items()}
    labels = {name: (scan.rows, scan.positives) for name, scan in scans.items()}
    return Sources(mode, scans["train"].moments, labels, streamed=streamed)


def check_both_classes(sources: Sources, ctx: distributed.DistContext) -> None:
    """Every channel needs both labels: with one class AUROC is undefined (not 0), so no epoch could be
    selected on val, and the quality gate's metric (test, or val) could not be computed."""
    names = list(sources.labels)
    totals = distributed.all_reduce_sum([count for name in names for count in sources.labels[name]], ctx)
    for index, name in enumerate(names):
        rows, positives = totals[2 * index], totals[2 * index + 1]
        if positives in (0, rows):
            raise TrainingError(
                f"channel {name}: all {rows:,} rows have label {1 if positives else 0}; AUROC is undefined with a "
                f"single class, so {'the quality gate' if name != 'train' else 'training'} cannot use this "
                "channel: add rows of both classes"
            )


def _on_device(sources: Sources, ctx: distributed.DistContext) -> bool:
    """Whether the held data goes to the device: always on the CPU; on a GPU when it fits comfortably."""
    if ctx.device.type == "cpu":
        return True
    if ctx.device.type != "cuda":
        return False
    size = sum(data.features.nbytes + data.labels.nbytes for data in sources.held.values())
    sharing = max(1, ctx.local_world_size // max(1, torch.cuda.device_count()))
    return size <= DEVICE_DATA_FRACTION * torch.cuda.mem_get_info(ctx.device)[0] / sharing


def build_loaders(
    plan: DataPlan, sources: Sources, hp: dict[str, Any], ctx: distributed.DistContext
) -> dict[str, Loader]:
    """An in-order loader per channel and the shuffled train loader, over held or streamed rows."""
    eval_batch = max(hp["batch_size"], EVAL_BATCH_ROWS)
    shuffled = {"shuffle": True, "seed": hp["seed"], "rank": ctx.rank,
                "epoch_rows": plan.largest_share("train", ctx.world_size)}  # fmt: skip
    loaders: dict[str, Loader] = {}
    if sources.mode == "stream":
        for name, source in sources.streamed.items():
            loaders[name] = StreamLoader(source, eval_batch, device=ctx.device)
        loaders["train_shuffled"] = StreamLoader(sources.streamed["train"], hp["batch_size"], device=ctx.device,
                                                 **shuffled)  # fmt: skip
        return loaders
    resident = _on_device(sources, ctx)
    tensors = {name: (torch.from_numpy(data.features), torch.from_numpy(data.labels))
               for name, data in sources.held.items()}  # fmt: skip
    if resident:
        tensors = {name: (x.to(ctx.device), y.to(ctx.device)) for name, (x, y) in tensors.items()}
    for name, (x, y) in tensors.items():
        loaders[name] = BatchLoader(x, y, eval_batch, device=ctx.device, resident=resident)
    x, y = tensors["train"]
    loaders["train_shuffled"] = BatchLoader(x, y, hp["batch_size"], device=ctx.device, resident=resident, **shuffled)
    return loaders


def fit_standardizer(plan: DataPlan, sources: Sources, ctx: distributed.DistContext) -> Standardizer:
    """Mean and std of the whole train channel (values minus offsets, merged from every rank's share)."""
    parts: list[Moments] = distributed.all_gather_object(sources.moments, ctx)
    return Standardizer.from_moments(functools.reduce(Moments.merge, parts), plan.offsets)


def _data(hp: dict[str, Any], ctx: distributed.DistContext) -> tuple[DataPlan, Sources, str]:
    plan = distributed.agreed(
        lambda: plan_data(hp["label_column"], hp["feature_columns"], hp["exclude_columns"], world_size=ctx.world_size),
        ctx,
    )
    mode, reason = distributed.agreed(lambda: choose_loading(plan, hp, ctx), ctx, where="on rank {rank}")
    if "stream" in distributed.all_gather_object(mode, ctx):  # one host short of memory: every rank streams
        mode = "stream"
    sources = distributed.agreed(lambda: load_sources(plan, mode, ctx), ctx)
    check_both_classes(sources, ctx)
    return plan, sources, reason


def _manager(ctx: distributed.DistContext) -> CheckpointManager:
    directory = Path(os.environ.get("CHECKPOINT_DIR") or contract.CHECKPOINT_LOCAL_PATH)

    def create() -> CheckpointManager:
        try:
            return CheckpointManager(directory, writer=ctx.is_main)
        except OSError as error:
            raise TrainingError(f"checkpoint directory {directory} is not writable: {error}") from None

    return distributed.agreed(create, ctx, where="on rank {rank}")


def prepare(
    args: argparse.Namespace, hp: dict[str, Any], ctx: distributed.DistContext, log: Any
) -> tuple[Job, Progress]:
    """Load or scan this rank's data, build the model and optimizer, and restore a matching checkpoint if any."""
    plan, sources, reason = _data(hp, ctx)
    log(describe_data(plan, sources, ctx))
    if plan.excluded:
        log("excluded column(s): " + ", ".join(column.describe() for column in plan.excluded))
    log(f"data loading: {reason}")
    manager = _manager(ctx)
    settings = training_settings(hp, plan, ctx, args.max_steps_per_epoch)
    resumed = resume_state(manager, settings, args.fresh, ctx)
    standardizer = Standardizer.from_dict(resumed["standardizer"]) if resumed else fit_standardizer(plan, sources, ctx)
    for data in sources.held.values():
        standardizer.transform_inplace(data.features, plan.offsets)
    for source in sources.streamed.values():
        source.standardizer = standardizer
    model = MLP(len(plan.features), hp["hidden_sizes"], hp["dropout"]).to(ctx.device)
    seed_all(distributed.rank_seed(hp["seed"], ctx.rank))  # the same weights everywhere, each rank its own masks
    optimizer = make_optimizer(model, hp["learning_rate"], hp["weight_decay"], ctx.device)
    loaders = build_loaders(plan, sources, hp, ctx)
    job = Job(args, hp, ctx, plan, sources, standardizer, model, optimizer, manager, loaders, settings,
              autocast_dtype(ctx.device))  # fmt: skip
    progress = Progress()
    if resumed:
        progress = restore(resumed, model, optimizer, ctx)
        remaining = f"continuing with epoch {progress.epoch + 1}/{hp['epochs']}"
        if progress.epoch >= hp["epochs"] or progress.stopped_early:
            remaining = "training had finished; writing the model of its best epoch"
        log(f"resumed from epoch {progress.epoch} (checkpoint in {manager.directory}); {remaining}")
    return job, progress


def describe_data(plan: DataPlan, sources: Sources, ctx: distributed.DistContext) -> str:
    """The log line about the data: rows per channel (and this rank's), features, skipped parts, device."""
    rows = ", ".join(f"{name} {channel.rows} rows" for name, channel in plan.channels.items())
    if ctx.distributed:
        rows += " (this rank: " + "/".join(str(count) for count, _ in sources.labels.values()) + ")"
    skipped = sum(channel.empty_parts for channel in plan.channels.values())
    timeout = f", collectives time out after {distributed.process_group_timeout()} s" if ctx.distributed else ""
    return (
        f"data: {rows}; {len(plan.features)} features {plan.features}; {skipped} empty part(s) skipped; "
        f"device {ctx.device}, world size {ctx.world_size} ({ctx.backend}){timeout}, "
        f"{torch.get_num_threads()} threads"
    )
