"""Finding a channel's parquet parts the way real exports lay them out, and reading only their footers.

Spark, Glue, Athena UNLOAD and pandas/Dask exports write many ``part-*.parquet`` files, sometimes
under Hive-style folders (``dt=2026-11-01/``), next to marker and checksum files (``_SUCCESS``,
``_committed_*``, ``.part-*.crc``), in-progress folders (``_temporary/``) and sometimes 0-row
parts. This module lists the data files in a stable order and inspects each one's footer with a
single file open at a time, so a channel of thousands of small parts costs one file handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
from failure import TrainingError

IGNORED_PREFIXES = ("_", ".")
"""Files and folders whose name starts with these are not data: the same rule as ``pyarrow.dataset``'s
default ``ignore_prefixes`` (Spark's ``_SUCCESS``, ``_committed_*``, ``_temporary/``, Hadoop's ``.crc``)."""


class DataError(TrainingError):
    """The input data breaks the data contract."""


@dataclass(frozen=True)
class Part:
    """One non-empty parquet file: its rows per row group, Arrow schema and pandas index columns."""

    path: Path
    row_groups: tuple[int, ...]
    schema: pa.Schema
    index_columns: frozenset[str]

    @property
    def rows(self) -> int:
        """Rows in the file."""
        return sum(self.row_groups)


@dataclass(frozen=True)
class ChannelFiles:
    """A channel's non-empty parts in reading order, and how many 0-row parts were skipped."""

    name: str
    directory: Path
    parts: tuple[Part, ...]
    empty_parts: int

    @property
    def rows(self) -> int:
        """Rows in the whole channel."""
        return sum(part.rows for part in self.parts)


def is_data_file(relative: Path) -> bool:
    """A ``.parquet`` file with no marker, hidden or in-progress component in its path."""
    return relative.suffix == ".parquet" and not any(name.startswith(IGNORED_PREFIXES) for name in relative.parts)


def find_parquet_files(directory: Path) -> list[Path]:
    """Every data file under ``directory`` at any depth, sorted by relative path (a stable order)."""
    found = [
        path for path in directory.rglob("*.parquet") if path.is_file() and is_data_file(path.relative_to(directory))
    ]
    return sorted(found, key=lambda path: path.relative_to(directory).as_posix())


def is_feature_type(data_type: pa.DataType) -> bool:
    """Integer (nullable or not), floating point and bool columns can be features (bool as 0/1)."""
    return bool(pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_boolean(data_type))


def pandas_index_columns(schema: pa.Schema) -> frozenset[str]:
    """Columns pandas stored its index in (``__index_level_0__`` or a named index), from the schema's metadata.

    A ``RangeIndex`` is stored as metadata only (a dict, not a column) and needs no dropping.
    """
    try:
        metadata = schema.pandas_metadata or {}
    except ValueError:  # metadata that is not valid JSON: written by something other than pandas
        return frozenset()
    return frozenset(name for name in metadata.get("index_columns", []) if isinstance(name, str))


def inspect_part(channel: str, path: Path) -> Part:
    """Read one file's footer (row groups, schema) and close it again."""
    try:
        with pq.ParquetFile(path) as parquet:
            metadata, schema = parquet.metadata, parquet.schema_arrow
            row_groups = tuple(metadata.row_group(index).num_rows for index in range(metadata.num_row_groups))
    except Exception as error:
        raise DataError(f"channel {channel}: file {path} is not a readable parquet file: {error}") from None
    return Part(path, row_groups, schema, pandas_index_columns(schema))


def inspect_channel(channel: str, directory: Path) -> ChannelFiles:
    """Inspect every data file of a channel; 0-row parts are skipped, a channel without rows fails."""
    paths = find_parquet_files(directory)
    if not paths:
        raise DataError(
            f"channel {channel}: no .parquet files found under {directory} "
            f"(names starting with '_' or '.' are ignored as markers)"
        )
    parts = [inspect_part(channel, path) for path in paths]
    non_empty = tuple(part for part in parts if part.rows > 0)
    if not non_empty:
        raise DataError(f"channel {channel}: no rows: all {len(parts)} .parquet file(s) under {directory} are empty")
    return ChannelFiles(channel, directory, non_empty, len(parts) - len(non_empty))


def candidate_features(channel: ChannelFiles, label: str) -> list[str]:
    """The feature-typed columns besides the label and pandas index columns, the same in every part."""
    found: list[str] | None = None
    for part in channel.parts:
        if label not in part.schema.names:
            raise DataError(f"channel {channel.name}: label column {label!r} missing in file {part.path}")
        columns = [
            field.name
            for field in part.schema
            if field.name != label and field.name not in part.index_columns and is_feature_type(field.type)
        ]
        if found is None:
            found = columns
        elif set(columns) != set(found):
            raise DataError(
                f"channel {channel.name}: file {part.path} has feature columns {sorted(columns)} "
                f"but other files have {sorted(found)}"
            )
    return found or []


def check_requested(channel: ChannelFiles, requested: list[str], label: str) -> None:
    """Every requested feature column exists in every part, is not the label and has a feature type."""
    for part in channel.parts:
        if label not in part.schema.names:
            raise DataError(f"channel {channel.name}: label column {label!r} missing in file {part.path}")
        for column in requested:
            if column == label:
                raise DataError(f"feature_columns: {column!r} is the label column")
            if column not in part.schema.names:
                raise DataError(
                    f"channel {channel.name}: unknown column {column!r} in feature_columns (file {part.path})"
                )
            data_type = part.schema.field(column).type
            if not is_feature_type(data_type):
                raise DataError(
                    f"channel {channel.name}: feature column {column!r} in file {part.path} is not numeric or bool "
                    f"({data_type})"
                )


def resolve_features(channels: dict[str, ChannelFiles], label: str, requested: list[str]) -> list[str]:
    """The requested columns (checked in every part) or train's candidate columns (checked to match everywhere)."""
    if requested:
        for channel in channels.values():
            check_requested(channel, requested, label)
        return list(requested)
    by_channel = {name: candidate_features(channel, label) for name, channel in channels.items()}
    features = by_channel["train"]
    for name, columns in by_channel.items():
        if set(columns) != set(features):
            only_here = sorted(set(columns) - set(features))
            only_train = sorted(set(features) - set(columns))
            raise DataError(
                f"channel {name}: feature set differs from channel train "
                f"(only in {name}: {only_here}, only in train: {only_train})"
            )
    if not features:
        raise DataError(f"channel train: no numeric or bool feature columns besides label {label!r}")
    return features
