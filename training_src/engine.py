"""In-memory batch loading, the training epoch and the evaluation pass."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import torch
from metrics import BinaryEvaluator
from torch import nn
from torch.utils.data import Dataset
from torch.utils.data.distributed import DistributedSampler


class BatchLoader:
    """Mini-batches from tensors already in memory (and on the device), sharded per rank.

    Training order comes from ``DistributedSampler`` (seeded with ``seed + epoch``, so a resumed run
    sees the same order); with one process the identical permutation is drawn directly. Each epoch
    gathers the shard once and then yields contiguous slices, which is much faster than a
    per-sample ``DataLoader``. Evaluation (``shuffle=False``) uses a strided shard without padding,
    so every sample counts exactly once across ranks.
    """

    def __init__(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        world_size: int = 1,
        rank: int = 0,
    ) -> None:
        self.features = features
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.world_size = world_size
        self.rank = rank
        self.epoch = 0
        self.sampler: DistributedSampler[int] | None = None
        if shuffle and world_size > 1:
            self.sampler = DistributedSampler(
                cast("Dataset[int]", range(len(labels))),  # the sampler only needs len()
                num_replicas=world_size,
                rank=rank,
                shuffle=True,
                seed=seed,
            )

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's shuffle order."""
        self.epoch = epoch
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)

    def _indices(self) -> torch.Tensor | None:
        count = len(self.labels)
        if self.sampler is not None:
            return torch.tensor(list(self.sampler), dtype=torch.long)
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            return torch.randperm(count, generator=generator)
        if self.world_size > 1:
            return torch.arange(self.rank, count, self.world_size)
        return None

    def __len__(self) -> int:
        count = len(self.labels)
        if self.sampler is not None:
            count = self.sampler.num_samples
        elif not self.shuffle and self.world_size > 1:
            count = len(range(self.rank, count, self.world_size))
        return (count + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        indices = self._indices()
        if indices is None:
            features, labels = self.features, self.labels
        else:
            indices = indices.to(self.features.device)
            features, labels = self.features[indices], self.labels[indices]
        for start in range(0, len(labels), self.batch_size):
            yield features[start : start + self.batch_size], labels[start : start + self.batch_size]


def train_one_epoch(
    model: nn.Module,
    loader: BatchLoader,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    *,
    epoch: int,
    epochs: int,
    log_interval: int,
    max_steps: int = 0,
    log: bool = True,
) -> tuple[torch.Tensor, int]:
    """Train one epoch and return this rank's summed loss (a tensor, to avoid per-step syncs) and sample count.

    Every ``log_interval`` steps rank 0 prints a progress line (``running_loss=``, steps/s, ETA); it
    carries no metric key, so SageMaker's scrapers ignore it.
    """
    model.train()
    loader.set_epoch(epoch)
    total_steps = min(len(loader), max_steps) if max_steps else len(loader)
    loss_sum = torch.zeros((), device=loader.features.device)
    seen = 0
    started = time.perf_counter()
    for step, (features, labels) in enumerate(loader, start=1):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(features), labels)
        loss.backward()
        optimizer.step()
        count = len(labels)
        loss_sum.add_(loss.detach(), alpha=count)
        seen += count
        if log and step % log_interval == 0 and step < total_steps:
            rate = step / max(time.perf_counter() - started, 1e-9)
            print(
                f"progress epoch {epoch}/{epochs} step {step}/{total_steps} "
                f"running_loss {float(loss_sum) / seen:.6f} {rate:.1f} steps/s "
                f"eta {(total_steps - step) / rate:.1f}s",
                flush=True,
            )
        if step >= total_steps:
            break
    return loss_sum, seen


@torch.no_grad()
def evaluate(model: nn.Module, loader: BatchLoader, evaluator: BinaryEvaluator, loss_fn: nn.Module) -> dict[str, float]:
    """Loss, F1 and AUROC of ``model`` on the loader's samples, aggregated across ranks."""
    model.eval()
    for features, labels in loader:
        logits = model(features)
        evaluator.update(logits, labels, loss_fn(logits, labels))
    return evaluator.compute()
