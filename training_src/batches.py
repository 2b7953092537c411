"""Mini-batches for the training step, from rows in memory (``BatchLoader``) or streamed (``StreamLoader``).

Where the rows live decides how a batch reaches the device:

* on the device (``resident``: CPU training, or a GPU the data fits on): the rows are moved once, the
  epoch's permutation is drawn on the device and each batch is an index on the device: no host work;
* in host memory, for a GPU they do not fit on (``staged``): each batch is gathered into one of a few
  pinned buffers and copied with ``non_blocking=True``, one batch ahead, so the copy overlaps the
  previous step; a pinned buffer is reused only after its copy has finished (a CUDA event);
* streamed (``StreamLoader``): decoded and shuffled by a background thread (see ``streaming``).

With ``shuffle`` each epoch uses a fresh permutation from a generator seeded with ``(seed, epoch, rank)``:
a resumed run sees the same order and the global RNG is untouched. ``epoch_rows`` (the largest share
across ranks) pads a smaller share by repeating its first rows of the epoch, as ``DistributedSampler``
pads, so every rank runs the same number of steps (DDP needs that). Without ``shuffle`` every row
counts exactly once, in order.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from streaming import Batch, StreamedChannel, epoch_rng, in_order, prefetched, shuffled_epoch

STAGING_SLOTS = 3
"""Pinned buffers in flight: the batch being copied, the one being computed on, and one to gather into."""
TensorBatch = tuple[torch.Tensor, torch.Tensor]


def order_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of one rank's epoch permutation."""
    return ((seed * 1_000_003 + epoch) * 8191 + rank) % 2**63


class BatchLoader:
    """Mini-batches of this rank's rows held in memory, on the device (``resident``) or staged from the host."""

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
        resident: bool | None = None,
    ) -> None:
        self.resident = device.type == "cpu" if resident is None else resident
        self.features = features.to(device) if self.resident else features
        self.labels = labels.to(device) if self.resident else labels
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
        """This epoch's row indices (shuffled and padded to ``epoch_rows``), on the rows' device."""
        where = self.features.device
        generator = torch.Generator(device=where) if where.type == "cuda" else torch.Generator()
        generator.manual_seed(order_seed(self.seed, self.epoch, self.rank))
        order = torch.randperm(len(self.labels), generator=generator, device=where)
        if self.epoch_rows > len(order):
            order = torch.cat([order, order[: self.epoch_rows - len(order)]])
        return order

    def __len__(self) -> int:
        return (self.epoch_rows + self.batch_size - 1) // self.batch_size

    def _selections(self) -> Iterator[torch.Tensor | slice]:
        if not self.shuffle:
            for start in range(0, len(self.labels), self.batch_size):
                yield slice(start, start + self.batch_size)
            return
        order = self.order()
        for start in range(0, len(order), self.batch_size):
            yield order[start : start + self.batch_size]

    def __iter__(self) -> Iterator[TensorBatch]:
        if not self.resident:
            yield from self._staged()
            return
        for rows in self._selections():
            if isinstance(rows, slice):
                yield self.features[rows], self.labels[rows]
            else:
                yield self.features.index_select(0, rows), self.labels.index_select(0, rows)

    def _staged(self) -> Iterator[TensorBatch]:
        """Host rows through pinned buffers (on CUDA) with non-blocking copies, one batch ahead."""
        pin = self.device.type == "cuda"
        width = self.features.shape[1]
        slots = [
            (torch.empty((self.batch_size, width), pin_memory=pin), torch.empty(self.batch_size, pin_memory=pin))
            for _ in range(STAGING_SLOTS)
        ]
        copied: list[torch.cuda.Event | None] = [None] * STAGING_SLOTS
        pending: TensorBatch | None = None
        for step, rows in enumerate(self._selections()):
            slot = step % STAGING_SLOTS
            event = copied[slot]
            if event is not None:
                event.synchronize()  # its previous copy to the device has finished: the buffer is free
            count = len(range(len(self.labels))[rows]) if isinstance(rows, slice) else len(rows)
            x, y = slots[slot][0][:count], slots[slot][1][:count]
            if isinstance(rows, slice):
                x.copy_(self.features[rows])
                y.copy_(self.labels[rows])
            else:
                torch.index_select(self.features, 0, rows, out=x)
                torch.index_select(self.labels, 0, rows, out=y)
            ready = (x.to(self.device, non_blocking=pin), y.to(self.device, non_blocking=pin))
            if pin:
                done = torch.cuda.Event()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
                done.record()
                copied[slot] = done
            if pending is not None:
                yield pending
            pending = ready
        if pending is not None:
            yield pending


class StreamLoader:
    """Mini-batches of a streamed share: shuffled through the buffer for training, in order for evaluation."""

    def __init__(
        self,
        source: StreamedChannel,
        batch_size: int,
        *,
        device: torch.device,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        epoch_rows: int | None = None,
    ) -> None:
        self.source = source
        self.batch_size = batch_size
        self.device = device
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.epoch_rows = max(epoch_rows or 0, len(source.rows)) if shuffle else len(source.rows)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's piece order and shuffle."""
        self.epoch = epoch

    def __len__(self) -> int:
        return (self.epoch_rows + self.batch_size - 1) // self.batch_size

    def _batches(self) -> Iterator[Batch]:
        if self.shuffle:
            rng = epoch_rng(self.seed, self.epoch, self.rank)
            return shuffled_epoch(self.source, self.batch_size, rng, self.epoch_rows)
        return in_order(self.source, self.batch_size)

    def __iter__(self) -> Iterator[TensorBatch]:
        pin = self.device.type == "cuda"

        def produce() -> Iterator[Batch]:
            for features, labels in self._batches():
                if pin:  # pinned in the background thread, copied without blocking below
                    yield torch.from_numpy(features).pin_memory(), torch.from_numpy(labels).pin_memory()  # type: ignore[misc]
                else:
                    yield features, labels

        for features, labels in prefetched(produce):
            x, y = torch.as_tensor(features), torch.as_tensor(labels)
            yield x.to(self.device, non_blocking=pin), y.to(self.device, non_blocking=pin)
