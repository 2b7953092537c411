"""Batch loading from host memory, the training epoch and the evaluation pass."""

from __future__ import annotations

import time
from collections.abc import Iterator

import torch
from metrics import BinaryEvaluator
from torch import nn


class BatchLoader:
    """Mini-batches of this rank's rows, gathered on the host and moved to ``device`` one batch at a time.

    The rows stay in host memory; only the current batch goes to the device, so GPU memory does
    not grow with the dataset and no epoch copies the whole set. With ``shuffle`` each epoch uses a
    fresh permutation of the rank's rows from a generator seeded with ``(seed, epoch, rank)``: a
    resumed run sees the same order and the global RNG is untouched. ``epoch_rows`` (the largest
    shard across ranks) pads a smaller shard by repeating its first rows of the epoch, as
    ``DistributedSampler`` pads, so every rank runs the same number of steps (DDP needs that).
    Without ``shuffle`` batches are contiguous slices and every row counts exactly once.
    """

    def __init__(
        self,
        features: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        device: torch.device,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        epoch_rows: int | None = None,
    ) -> None:
        self.features = features
        self.labels = labels
        self.batch_size = batch_size
        self.device = device
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.epoch_rows = max(epoch_rows or 0, len(labels)) if shuffle else len(labels)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's shuffle order."""
        self.epoch = epoch

    def order(self) -> torch.Tensor:
        """This epoch's row indices (shuffled and padded to ``epoch_rows``)."""
        generator = torch.Generator()
        generator.manual_seed(((self.seed * 1_000_003 + self.epoch) * 8191 + self.rank) % 2**63)
        order = torch.randperm(len(self.labels), generator=generator)
        if self.epoch_rows > len(order):
            order = torch.cat([order, order[: self.epoch_rows - len(order)]])
        return order

    def __len__(self) -> int:
        return (self.epoch_rows + self.batch_size - 1) // self.batch_size

    def _to_device(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return features.to(self.device), labels.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.shuffle:
            for start in range(0, len(self.labels), self.batch_size):
                stop = start + self.batch_size
                yield self._to_device(self.features[start:stop], self.labels[start:stop])
            return
        order = self.order()
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            yield self._to_device(self.features.index_select(0, batch), self.labels.index_select(0, batch))


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
    loss_sum = torch.zeros((), device=loader.device)
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
