"""Reading this process's share of each parquet channel into float32 arrays, with bounded memory.

Each channel directory (``SM_CHANNEL_<NAME>``, default ``/opt/ml/input/data/<name>``) holds one
or more ``.parquet`` files at any depth (see ``channel_files``). Under torchrun each rank reads only
its own contiguous share of every channel's rows, so host memory per process scales with the
shard, not the dataset. Rows are decoded a record batch at a time straight into one preallocated
row-major matrix: the only full-size allocation is the matrix itself. Every problem raises
``DataError`` with a one-line reason that names the channel, file and column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import contract
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
from channel_files import ChannelFiles, DataError, Part, inspect_channel, is_feature_type, resolve_features

DEFAULT_INPUT_DIR = "/opt/ml/input/data"
READ_BATCH_ROWS = 16_384
"""Rows decoded per record batch: small enough that a batch's columns stay in cache while they are
scattered into the row-major matrix, large enough that per-batch overhead is noise."""

LARGE_PART_ROWS = 4 * READ_BATCH_ROWS
"""Parts above this size are decoded with threads and streamed through a small buffer (so a huge row
group never sits in memory whole); smaller ones read faster without either (thread start-up and
buffer set-up dominate a small file)."""
STREAM_BUFFER_BYTES = 1 << 20

__all__ = ["ChannelData", "DataError", "channel_dir", "load_channels", "shard_range"]


@dataclass
class ChannelData:
    """This rank's rows of one channel: features ``(n, d)`` float32 row-major, labels ``(n,)`` float32 in {0, 1}."""

    name: str
    features: np.ndarray
    labels: np.ndarray
    total_rows: int
    files: list[Path]
    empty_parts: int


@dataclass
class _NullCounts:
    """Nulls seen per feature column of one channel, and the first file each appeared in."""

    counts: dict[str, int] = field(default_factory=dict)
    first_file: dict[str, Path] = field(default_factory=dict)

    def add(self, column: str, count: int, path: Path) -> None:
        self.counts[column] = self.counts.get(column, 0) + count
        self.first_file.setdefault(column, path)

    def raise_if_any(self, channel: str) -> None:
        if not self.counts:
            return
        listed = ", ".join(
            f"{column!r} has {count} null value(s) (first in {self.first_file[column]})"
            for column, count in self.counts.items()
        )
        raise DataError(f"channel {channel}: feature column {listed}; fill or drop the nulls before training")


def channel_dir(channel: str) -> Path:
    """The channel's directory: ``SM_CHANNEL_<NAME>`` or ``/opt/ml/input/data/<name>``."""
    return Path(os.environ.get(f"SM_CHANNEL_{channel.upper()}", os.path.join(DEFAULT_INPUT_DIR, channel)))


def shard_range(total: int, rank: int, world_size: int) -> range:
    """Rank ``rank``'s contiguous share of ``total`` rows; shares differ by at most one row."""
    return range(total * rank // world_size, total * (rank + 1) // world_size)


def _check_labels(channel: str, path: Path, column: pa.Array, label: str) -> np.ndarray:
    if not is_feature_type(column.type):
        raise DataError(f"channel {channel}: file {path}: label column {label!r} must be binary 0/1, got {column.type}")
    if column.null_count:
        raise DataError(f"channel {channel}: file {path}: label column {label!r} has {column.null_count} null value(s)")
    values: np.ndarray = column.to_numpy(zero_copy_only=False)
    binary = (values == 0) | (values == 1)
    if not binary.all():
        example = float(values[~binary][0])
        raise DataError(
            f"channel {channel}: file {path}: label column {label!r} must be binary 0/1, found value {example:g}"
        )
    return values


def _fill(
    channel: str, part: Part, batch: pa.RecordBatch, features: list[str], *, block: np.ndarray, nulls: _NullCounts
) -> None:
    """Write one record batch's feature columns into ``block`` (a row-major slice of the matrix)."""
    for index, name in enumerate(features):
        column = batch.column(name)
        if column.null_count:
            nulls.add(name, column.null_count, part.path)
            continue  # the channel fails after counting every null; the values do not matter
        block[:, index] = column.to_numpy(zero_copy_only=False)
    # One float64 reduction instead of a boolean mask: NaN or inf anywhere makes the sum non-finite,
    # and finite float32 values cannot overflow a float64 sum.
    if not nulls.counts and not np.isfinite(block.sum(dtype=np.float64)):
        finite = np.isfinite(block).all(axis=0)
        bad = [name for index, name in enumerate(features) if not finite[index]]
        raise DataError(f"channel {channel}: file {part.path}: NaN or infinite values in feature column(s) {bad}")


def _overlapping_groups(part: Part, start: int, rows: range) -> tuple[list[int], int]:
    """Row groups of ``part`` that overlap ``rows``, and the first one's global start (the part starts at ``start``)."""
    groups, first_start, position = [], -1, start
    for index, count in enumerate(part.row_groups):
        if position < rows.stop and position + count > rows.start and count:
            groups.append(index)
            first_start = position if first_start < 0 else first_start
        position += count
    return groups, first_start


def read_channel(channel: ChannelFiles, features: list[str], label: str, rows: range) -> ChannelData:
    """Read rows ``rows`` (global row numbers in reading order) of a channel, one file open at a time."""
    x = np.empty((len(rows), len(features)), dtype=np.float32)
    y = np.empty(len(rows), dtype=np.float32)
    nulls = _NullCounts()
    part_start = 0
    for part in channel.parts:
        groups, position = _overlapping_groups(part, part_start, rows)
        part_start += part.rows
        if not groups:
            continue
        try:
            large = part.rows > LARGE_PART_ROWS
            with pq.ParquetFile(part.path, pre_buffer=False, buffer_size=STREAM_BUFFER_BYTES * large) as parquet:
                batches = parquet.iter_batches(
                    batch_size=READ_BATCH_ROWS, row_groups=groups, columns=[*features, label], use_threads=large
                )
                for batch in batches:
                    low, high = max(position, rows.start), min(position + batch.num_rows, rows.stop)
                    if low < high:
                        piece = batch.slice(low - position, high - low)
                        block = slice(low - rows.start, high - rows.start)
                        _fill(channel.name, part, piece, features, block=x[block], nulls=nulls)
                        y[block] = _check_labels(channel.name, part.path, piece.column(label), label)
                    position += batch.num_rows
        except DataError:
            raise
        except Exception as error:
            raise DataError(f"channel {channel.name}: cannot read file {part.path}: {error}") from None
    nulls.raise_if_any(channel.name)
    paths = [part.path for part in channel.parts]
    return ChannelData(channel.name, x, y, channel.rows, paths, channel.empty_parts)


def _inspect_present_channels() -> dict[str, ChannelFiles]:
    """Inspect every declared channel; a required one that is absent fails, an optional one is skipped."""
    inspected: dict[str, ChannelFiles] = {}
    for channel in contract.CHANNELS:
        directory = channel_dir(channel)
        if not directory.is_dir():
            if channel in contract.REQUIRED_CHANNELS:
                raise DataError(
                    f"channel {channel}: missing required channel (directory {directory} not found; "
                    f"set SM_CHANNEL_{channel.upper()})"
                )
            continue
        inspected[channel] = inspect_channel(channel, directory)
    return inspected


def load_channels(
    label: str, feature_columns: list[str], *, rank: int = 0, world_size: int = 1
) -> tuple[dict[str, ChannelData], list[str]]:
    """Load and validate this rank's share of every present channel.

    Args:
        label: name of the binary label column.
        feature_columns: feature columns to use; empty means every numeric or bool column except the
            label and pandas index columns.
        rank: this process's rank; it reads rows ``shard_range(rows, rank, world_size)`` of each channel.
        world_size: number of processes sharing the rows.

    Returns:
        The channels by name (``test`` only when present) and the feature columns in use.

    Raises:
        DataError: with a one-line reason when any channel breaks the data contract.
    """
    inspected = _inspect_present_channels()
    features = resolve_features(inspected, label, feature_columns)
    for name, channel in inspected.items():
        if channel.rows < world_size:
            raise DataError(f"channel {name}: {channel.rows} row(s) cannot be shared by {world_size} processes")
    loaded = {
        name: read_channel(channel, features, label, shard_range(channel.rows, rank, world_size))
        for name, channel in inspected.items()
    }
    return loaded, features
