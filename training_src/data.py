"""Reading and validating the parquet channels into float32 numpy arrays.

Each channel directory (``SM_CHANNEL_<NAME>``, default ``/opt/ml/input/data/<name>``) holds one or
more ``.parquet`` files at any depth. Every problem raises ``DataError`` with a one-line reason that
names the channel, file and column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import contract
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
from failure import TrainingError

DEFAULT_INPUT_DIR = "/opt/ml/input/data"


class DataError(TrainingError):
    """The input data breaks the data contract."""


@dataclass
class ChannelData:
    """One channel's rows: features ``(n, d)`` float32 (column-major) and labels ``(n,)`` float32 in {0, 1}."""

    name: str
    features: np.ndarray
    labels: np.ndarray
    files: list[Path]


def channel_dir(channel: str) -> Path:
    """The channel's directory: ``SM_CHANNEL_<NAME>`` or ``/opt/ml/input/data/<name>``."""
    return Path(os.environ.get(f"SM_CHANNEL_{channel.upper()}", os.path.join(DEFAULT_INPUT_DIR, channel)))


def find_parquet_files(directory: Path) -> list[Path]:
    """All ``.parquet`` files under ``directory`` at any depth, sorted."""
    return sorted(path for path in directory.rglob("*.parquet") if path.is_file())


def is_numeric(data_type: pa.DataType) -> bool:
    """Integer or floating point columns count as numeric features."""
    return bool(pa.types.is_integer(data_type) or pa.types.is_floating(data_type))


def _open(channel: str, path: Path) -> pq.ParquetFile:
    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:
        raise DataError(f"channel {channel}: file {path} is not a readable parquet file: {error}") from None
    if parquet.metadata.num_rows == 0:
        parquet.close()
        raise DataError(f"channel {channel}: file {path} is empty (0 rows)")
    return parquet


def _channel_columns(channel: str, files: dict[Path, pq.ParquetFile], label: str) -> list[str]:
    """The channel's numeric non-label columns, checking that every file has the label and the same ones."""
    numeric: list[str] | None = None
    for path, parquet in files.items():
        schema = parquet.schema_arrow
        if label not in schema.names:
            raise DataError(f"channel {channel}: label column {label!r} missing in file {path}")
        columns = [field.name for field in schema if field.name != label and is_numeric(field.type)]
        if numeric is None:
            numeric = columns
        elif set(columns) != set(numeric):
            raise DataError(
                f"channel {channel}: file {path} has numeric columns {sorted(columns)} "
                f"but other files have {sorted(numeric)}"
            )
    return numeric or []


def _check_requested(channel: str, files: dict[Path, pq.ParquetFile], requested: list[str], label: str) -> None:
    for path, parquet in files.items():
        schema = parquet.schema_arrow
        for column in requested:
            if column == label:
                raise DataError(f"feature_columns: {column!r} is the label column")
            if column not in schema.names:
                raise DataError(f"channel {channel}: unknown column {column!r} in feature_columns (file {path})")
            if not is_numeric(schema.field(column).type):
                raise DataError(
                    f"channel {channel}: feature column {column!r} in file {path} is not numeric "
                    f"({schema.field(column).type})"
                )


def _read(channel: str, files: dict[Path, pq.ParquetFile], features: list[str], label: str) -> ChannelData:
    total = sum(parquet.metadata.num_rows for parquet in files.values())
    # Column-major: each parquet column lands in one contiguous run (row-major writes would be
    # strided). The standardizer's output, which training uses, is row-major again.
    x = np.empty((total, len(features)), dtype=np.float32, order="F")
    y = np.empty(total, dtype=np.float32)
    start = 0
    for path, parquet in files.items():
        try:
            table = parquet.read(columns=[*features, label], use_threads=True)
        except Exception as error:
            raise DataError(f"channel {channel}: cannot read file {path}: {error}") from None
        stop = start + table.num_rows
        block = x[start:stop]
        for index, name in enumerate(features):
            offset = 0
            for chunk in table.column(name).chunks:  # chunk by chunk: no concatenated float64 copy per column
                values = chunk.to_numpy(zero_copy_only=False)
                block[offset : offset + len(values), index] = values
                offset += len(values)
        # One float64 reduction instead of a boolean mask: NaN or inf anywhere makes the sum non-finite,
        # and finite float32 values cannot overflow a float64 sum.
        if not np.isfinite(block.sum(dtype=np.float64)):
            finite = np.asarray(np.isfinite(block).all(axis=0))
            bad = [name for index, name in enumerate(features) if not finite[index]]
            raise DataError(f"channel {channel}: file {path}: NaN, null or infinite values in feature column(s) {bad}")
        label_column = table.column(label)
        if not (is_numeric(label_column.type) or pa.types.is_boolean(label_column.type)):
            raise DataError(
                f"channel {channel}: file {path}: label column {label!r} must be binary 0/1, "
                f"got type {label_column.type}"
            )
        values = label_column.to_numpy(zero_copy_only=False).astype(np.float64)
        binary = (values == 0) | (values == 1)
        if not binary.all():
            example = float(values[~binary][0])
            raise DataError(
                f"channel {channel}: file {path}: label column {label!r} must be binary 0/1, found value {example:g}"
            )
        y[start:stop] = values
        start = stop
    return ChannelData(channel, x, y, list(files))


def _open_channels(opened: dict[str, dict[Path, pq.ParquetFile]]) -> None:
    """Open every file of every present channel into ``opened`` (the caller closes them)."""
    for channel in contract.CHANNELS:
        directory = channel_dir(channel)
        if not directory.is_dir():
            if channel in contract.REQUIRED_CHANNELS:
                raise DataError(
                    f"channel {channel}: missing required channel (directory {directory} not found; "
                    f"set SM_CHANNEL_{channel.upper()})"
                )
            continue
        paths = find_parquet_files(directory)
        if not paths:
            raise DataError(f"channel {channel}: no .parquet files found under {directory}")
        opened[channel] = {}
        for path in paths:
            opened[channel][path] = _open(channel, path)


def _resolve_features(opened: dict[str, dict[Path, pq.ParquetFile]], label: str, requested: list[str]) -> list[str]:
    """The requested columns (checked in every file) or train's numeric columns (checked to match everywhere)."""
    if requested:
        for channel, files in opened.items():
            _check_requested(channel, files, requested, label)
        return list(requested)
    by_channel = {channel: _channel_columns(channel, files, label) for channel, files in opened.items()}
    features = by_channel["train"]
    for channel, columns in by_channel.items():
        if set(columns) != set(features):
            only_here = sorted(set(columns) - set(features))
            only_train = sorted(set(features) - set(columns))
            raise DataError(
                f"channel {channel}: feature set differs from channel train "
                f"(only in {channel}: {only_here}, only in train: {only_train})"
            )
    if not features:
        raise DataError(f"channel train: no numeric feature columns besides label {label!r}")
    return features


def load_channels(label: str, feature_columns: list[str]) -> tuple[dict[str, ChannelData], list[str]]:
    """Load and validate every present channel.

    Args:
        label: name of the binary label column.
        feature_columns: feature columns to use; empty means every numeric column except the label.

    Returns:
        The channels by name (``test`` only when present) and the feature columns in use.

    Raises:
        DataError: with a one-line reason when any channel breaks the data contract.
    """
    opened: dict[str, dict[Path, pq.ParquetFile]] = {}
    try:
        _open_channels(opened)
        features = _resolve_features(opened, label, feature_columns)
        for channel, files in opened.items():
            for path, parquet in files.items():
                if label not in parquet.schema_arrow.names:
                    raise DataError(f"channel {channel}: label column {label!r} missing in file {path}")
        return {channel: _read(channel, files, features, label) for channel, files in opened.items()}, features
    finally:
        for files in opened.values():
            for parquet in files.values():
                parquet.close()
