"""Finding a channel's parquet parts the way real exports lay them out, and reading only their footers.

Spark, Glue, Athena UNLOAD and pandas/Dask exports write many ``part-*.parquet`` files, sometimes
under Hive-style folders (``dt=2026-11-01/``), next to marker and checksum files (``_SUCCESS``,
``_committed_*``, ``.part-*.crc``), in-progress folders (``_temporary/``) and sometimes 0-row
parts. This module lists the data files in a stable order and inspects each one's footer with a
single file open at a time, so a channel of thousands of small parts costs one file handle.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
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
    """One non-empty parquet file: its rows (and uncompressed bytes) per row group, Arrow schema, pandas
    index columns, and what identifies its content: size, footer digest, per-column value ranges."""

    path: Path
    row_groups: tuple[int, ...]
    schema: pa.Schema
    index_columns: frozenset[str]
    size: int = 0
    footer_sha256: str = ""
    group_bytes: tuple[int, ...] = ()
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

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

    def fingerprint(self) -> dict[str, object]:
        """What identifies the channel's data: file count, bytes, and a digest of every file's relative
        name, size and parquet footer (the footer holds the schema, row counts and column statistics).

        New data under the same names (a re-export) changes sizes or footers; a renamed file changes
        the names. Reading footers only keeps this cheap for channels of any size.
        """
        digest = hashlib.sha256()
        for part in self.parts:
            name = part.path.relative_to(self.directory).as_posix()
            digest.update(f"{name}\0{part.size}\0{part.footer_sha256}\n".encode())
        return {"files": len(self.parts), "bytes": sum(part.size for part in self.parts),
                "digest": digest.hexdigest()[:16]}  # fmt: skip


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
    """Integer (nullable or not), floating point, decimal and bool columns can be features (bool as 0/1).

    Athena and Spark write money columns as ``decimal128``; they are numbers, converted exactly.
    """
    return bool(
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_decimal(data_type)
    )


def type_name(data_type: pa.DataType) -> str:
    """The Arrow type as the log and ``model_meta.json`` name it, e.g. ``string``, ``timestamp[us]``,
    ``dictionary<values=string, indices=int32, ordered=0>`` (a pandas categorical), ``decimal128(18, 2)``."""
    return str(data_type)


def pandas_index_columns(schema: pa.Schema) -> frozenset[str]:
    """Columns pandas stored its index in (``__index_level_0__`` or a named index), from the schema's metadata.

    A ``RangeIndex`` is stored as metadata only (a dict, not a column) and needs no dropping.
    """
    try:
        metadata = schema.pandas_metadata or {}
    except ValueError:  # metadata that is not valid JSON: written by something other than pandas
        return frozenset()
    return frozenset(name for name in metadata.get("index_columns", []) if isinstance(name, str))


def footer_digest(path: Path) -> tuple[int, str]:
    """The file's size and the SHA-256 of its parquet footer (``<footer><4-byte length>PAR1`` at the end)."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 8))
        length = int.from_bytes(handle.read(4), "little")
        handle.seek(max(0, size - 8 - length))
        return size, hashlib.sha256(handle.read(length + 8)).hexdigest()


def _column_ranges(metadata: pq.FileMetaData, schema: pa.Schema) -> dict[str, tuple[float, float]]:
    """Per numeric column, the smallest minimum and largest maximum of its row groups' statistics,
    where every row group has them (writers may omit them; the loader then falls back, see ``data``)."""
    ranges: dict[str, tuple[float, float]] = {}
    names = [metadata.schema.column(index).path for index in range(metadata.num_columns)]
    for index, name in enumerate(names):
        if name not in schema.names or not is_feature_type(schema.field(name).type):
            continue
        low, high = float("inf"), float("-inf")
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(index).statistics
            if stats is None or not stats.has_min_max:
                break
            low, high = min(low, float(stats.min)), max(high, float(stats.max))
        else:
            if low <= high:
                ranges[name] = (low, high)
    return ranges


def inspect_part(channel: str, path: Path) -> Part:
    """Read one file's footer (row groups, schema, statistics) and close it again."""
    try:
        with pq.ParquetFile(path) as parquet:
            metadata, schema = parquet.metadata, parquet.schema_arrow
            groups = [metadata.row_group(index) for index in range(metadata.num_row_groups)]
            ranges = _column_ranges(metadata, schema)
        size, digest = footer_digest(path)
    except Exception as error:
        raise DataError(f"channel {channel}: file {path} is not a readable parquet file: {error}") from None
    return Part(
        path, tuple(group.num_rows for group in groups), schema, pandas_index_columns(schema), size, digest,
        tuple(group.total_byte_size for group in groups), ranges,
    )  # fmt: skip


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


@dataclass(frozen=True)
class ExcludedColumn:
    """A column of the train channel that is not a feature, its Arrow type, and why."""

    name: str
    type: str
    reason: str  # "not numeric" or "exclude_columns"

    def describe(self) -> str:
        """E.g. ``'customer_id' (string, not numeric)``."""
        return f"{self.name!r} ({self.type}, {self.reason})"


def _data_columns(part: Part, label: str) -> list[pa.Field]:
    """The part's fields besides the label and pandas' saved index (metadata, not data)."""
    return [field for field in part.schema if field.name != label and field.name not in part.index_columns]


def candidate_features(channel: ChannelFiles, label: str, excluded: frozenset[str] = frozenset()) -> list[str]:
    """The feature-typed columns besides the label, pandas index and ``excluded``, the same in every part."""
    found: list[str] | None = None
    for part in channel.parts:
        if label not in part.schema.names:
            raise DataError(f"channel {channel.name}: label column {label!r} missing in file {part.path}")
        columns = [
            field.name
            for field in _data_columns(part, label)
            if field.name not in excluded and is_feature_type(field.type)
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
                    f"channel {channel.name}: feature column {column!r} in file {part.path} is not numeric, decimal "
                    f"or bool ({type_name(data_type)}); remove it from feature_columns"
                )


def check_excluded(train: ChannelFiles, label: str, requested: list[str], excluded: list[str]) -> None:
    """``exclude_columns`` names columns of the train channel, never the label or a requested feature."""
    names = set(train.parts[0].schema.names)
    for column in excluded:
        if column == label:
            raise DataError(f"exclude_columns: {column!r} is the label column; set label_column to another column")
        if column in requested:
            raise DataError(f"exclude_columns: {column!r} is also in feature_columns; name it in one of them only")
        if column not in names:
            raise DataError(
                f"exclude_columns: no column {column!r} in channel train (file {train.parts[0].path} has "
                f"{', '.join(sorted(names))})"
            )


def excluded_columns(train: ChannelFiles, label: str, features: list[str], excluded: list[str]) -> list[ExcludedColumn]:
    """Every column of train's first part that is neither a feature nor the label nor pandas' index, with why."""
    part = train.parts[0]
    found = []
    for column in _data_columns(part, label):
        if column.name in features:
            continue
        reason = "exclude_columns" if column.name in excluded else "not numeric"
        if reason == "not numeric" and is_feature_type(column.type):
            reason = "not in feature_columns"
        found.append(ExcludedColumn(column.name, type_name(column.type), reason))
    return found


def resolve_features(
    channels: dict[str, ChannelFiles], label: str, requested: list[str], excluded: list[str] | None = None
) -> tuple[list[str], list[ExcludedColumn]]:
    """The features in use and the columns left out (each with its type and why).

    The requested columns are checked in every part; otherwise train's candidate columns, minus
    ``excluded``, must match in every channel.
    """
    excluded = excluded or []
    check_excluded(channels["train"], label, requested, excluded)
    if requested:
        for channel in channels.values():
            check_requested(channel, requested, label)
        features = list(requested)
    else:
        skipped = frozenset(excluded)
        by_channel = {name: candidate_features(channel, label, skipped) for name, channel in channels.items()}
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
            raise DataError(f"channel train: no numeric, decimal or bool feature columns besides label {label!r}")
    return features, excluded_columns(channels["train"], label, features, excluded)
