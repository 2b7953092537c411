"""Training on data larger than memory: this rank's share read each epoch, never held.

Each rank owns the same contiguous share of every channel's rows as in memory (``data.shard_range``),
cut into pieces: the parts of row groups within the share. Every epoch it reads its pieces in an order
drawn from ``(seed, epoch, rank)``, each a record batch at a time, standardizes the rows in float64
and adds them to a bounded shuffle buffer; whenever the buffer is full, a random half of it leaves as
batches. Peak memory is the buffer, one record batch and the row group being decoded, whatever the
size of the data. A first pass (``scan``) checks every value, counts the labels and gathers the
standardization moments, so bad data stops the job before training, as in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
from channel_files import ChannelFiles, DataError, Part
from data import DataPlan
from decode import Decoder, check_labels, overlapping_groups, stream_batch_rows
from memory_budget import SHUFFLE_BUFFER_BYTES
from model import Moments, Standardizer

Batch = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Piece:
    """Rows ``[start, stop)`` (within the file) of row group ``group`` of ``part``."""

    part: Part
    group: int
    start: int
    stop: int


@dataclass(frozen=True)
class Scan:
    """What the first pass over a share found: the rows' moments (values minus offsets) and label counts."""

    moments: Moments
    rows: int
    positives: int


def epoch_rng(seed: int, epoch: int, rank: int) -> np.random.Generator:
    """The generator of one rank's epoch: independent of the global RNG, so a resumed run sees the same order."""
    return np.random.default_rng([seed, epoch, rank])


@dataclass
class StreamedChannel:
    """One channel's share, read on demand."""

    channel: ChannelFiles
    plan: DataPlan
    rows: range
    standardizer: Standardizer | None = None
    pieces: list[Piece] = field(init=False)

    def __post_init__(self) -> None:
        self.pieces = []
        part_start = 0
        for part in self.channel.parts:
            for group, start in overlapping_groups(part, part_start, self.rows):
                first = max(start, self.rows.start) - part_start
                last = min(start + part.row_groups[group], self.rows.stop) - part_start
                self.pieces.append(Piece(part, group, first, last))
            part_start += part.rows

    @property
    def name(self) -> str:
        return self.channel.name

    def _read(self, piece: Piece, decoder: Decoder) -> Iterator[Batch]:
        """The piece's rows as ``(features minus offsets, labels)`` float32 arrays, a record batch at a time."""
        columns = [*self.plan.features, self.plan.label]
        group_start = sum(piece.part.row_groups[: piece.group])
        position = group_start
        try:
            with pq.ParquetFile(piece.part.path, pre_buffer=False, buffer_size=1 << 20) as parquet:
                batches = parquet.iter_batches(
                    batch_size=stream_batch_rows(len(columns)), row_groups=[piece.group], columns=columns,
                    use_threads=False,
                )  # fmt: skip
                for batch in batches:
                    low, high = max(position, piece.start), min(position + batch.num_rows, piece.stop)
                    position += batch.num_rows
                    if low < high:
                        rows = batch.slice(low - (position - batch.num_rows), high - low)
                        labels = check_labels(self.name, piece.part.path, rows.column(self.plan.label), self.plan.label)
                        features = decoder.fill(piece.part, rows).T
                        yield features, labels.astype(np.float32, copy=False)
                    if position >= piece.stop:
                        break
        except DataError:
            raise
        except Exception as error:
            raise DataError(f"channel {self.name}: cannot read file {piece.part.path}: {error}") from None

    def _decoder(self) -> Decoder:
        return Decoder.for_channel(self.name, self.plan.features, self.plan.offsets,
                                   stream_batch_rows(len(self.plan.features) + 1))  # fmt: skip

    def scan(self) -> Scan:
        """Read the share once, in order: check every value, gather moments and count labels."""
        decoder = self._decoder()
        moments, rows, positives = Moments(0, np.zeros(0), np.zeros(0)), 0, 0
        for piece in self.pieces:
            for features, labels in self._read(piece, decoder):
                moments = moments.merge(Moments.of(features))
                rows += len(labels)
                positives += int(labels.sum())
        decoder.nulls.raise_if_any(self.name)
        return Scan(moments, rows, positives)

    def standardized(self, order: list[Piece]) -> Iterator[Batch]:
        """Standardized float32 rows of ``order``'s pieces (``standardizer`` must be set)."""
        if self.standardizer is None:
            raise RuntimeError("set the channel's standardizer before streaming it")
        decoder = self._decoder()
        for piece in order:
            for features, labels in self._read(piece, decoder):
                block = np.array(features, dtype=np.float32)  # the decoder's scratch is reused next batch
                yield self.standardizer.transform_inplace(block, self.plan.offsets), labels

    def buffer_rows(self, batch_size: int) -> int:
        """Shuffle buffer capacity in rows: ``SHUFFLE_BUFFER_BYTES``, and at least four batches."""
        return max(4 * batch_size, SHUFFLE_BUFFER_BYTES // (4 * (len(self.plan.features) + 1)))


@dataclass
class ShuffleBuffer:
    """A bounded pool of rows: full, it shuffles and lets a random half out as whole batches."""

    capacity: int
    width: int
    batch_size: int
    rng: np.random.Generator
    x: np.ndarray = field(init=False)
    y: np.ndarray = field(init=False)
    count: int = 0

    def __post_init__(self) -> None:
        self.x = np.empty((self.capacity, self.width), dtype=np.float32)
        self.y = np.empty(self.capacity, dtype=np.float32)

    def add(self, features: np.ndarray, labels: np.ndarray) -> Iterator[Batch]:
        """Add rows; yields batches whenever the buffer fills up."""
        start = 0
        while start < len(labels):
            taken = min(self.capacity - self.count, len(labels) - start)
            self.x[self.count : self.count + taken] = features[start : start + taken]
            self.y[self.count : self.count + taken] = labels[start : start + taken]
            self.count += taken
            start += taken
            if self.count == self.capacity:
                yield from self._drain(keep=self.capacity // 2)

    def flush(self) -> Iterator[Batch]:
        """Every remaining row, shuffled, in batches (the last one may be short)."""
        yield from self._drain(keep=0)

    def _drain(self, keep: int) -> Iterator[Batch]:
        order = self.rng.permutation(self.count)
        leaving = (self.count - keep) // self.batch_size * self.batch_size if keep else self.count
        for start in range(0, leaving, self.batch_size):
            rows = order[start : min(start + self.batch_size, leaving)]
            yield self.x[rows], self.y[rows]  # fancy indexing copies: the buffer may change afterwards
        rest = order[leaving:]
        self.x[: len(rest)], self.y[: len(rest)] = self.x[rest], self.y[rest]
        self.count = len(rest)


def shuffled_epoch(
    source: StreamedChannel, batch_size: int, rng: np.random.Generator, epoch_rows: int
) -> Iterator[Batch]:
    """One epoch of ``source`` in shuffled batches, padded to ``epoch_rows`` rows with its first rows (as
    ``DistributedSampler`` pads, so every rank takes the same number of steps)."""
    order = [source.pieces[index] for index in rng.permutation(len(source.pieces))]
    buffer = ShuffleBuffer(source.buffer_rows(batch_size), len(source.plan.features), batch_size, rng)
    padding, kept = epoch_rows - len(source.rows), 0
    saved: list[Batch] = []
    for features, labels in source.standardized(order):
        if kept < padding:
            take = min(padding - kept, len(labels))
            saved.append((features[:take].copy(), labels[:take].copy()))
            kept += take
        yield from buffer.add(features, labels)
    for features, labels in saved:
        yield from buffer.add(features, labels)
    yield from buffer.flush()


def in_order(source: StreamedChannel, batch_size: int) -> Iterator[Batch]:
    """The share's rows in reading order, in batches of ``batch_size`` (evaluation: every row once)."""
    pending_x: list[np.ndarray] = []
    pending_y: list[np.ndarray] = []
    held = 0
    for features, labels in source.standardized(source.pieces):
        pending_x.append(features)
        pending_y.append(labels)
        held += len(labels)
        while held >= batch_size:
            x, y = np.concatenate(pending_x), np.concatenate(pending_y)
            yield x[:batch_size], y[:batch_size]
            pending_x, pending_y, held = [x[batch_size:]], [y[batch_size:]], held - batch_size
    if held:
        yield np.concatenate(pending_x), np.concatenate(pending_y)


_END = object()


def prefetched(produce: Callable[[], Iterator[Batch]], depth: int = 4) -> Iterator[Batch]:
    """``produce()``'s batches, made in a background thread ``depth`` ahead (pyarrow and numpy release the
    GIL while decoding, so reading overlaps the training step). Its errors are raised here; stopping early
    stops the thread."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for batch in produce():
                if not put(batch):
                    return
            put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            put(error)

    thread = threading.Thread(target=work, name="stream-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]  # only batches, _END and errors are put
    finally:
        stop.set()
        thread.join()
