"""Arrow columns to float32 feature rows: exact decimals, offsets that keep wide integers precise, checks.

float32 holds 24 bits of mantissa: an epoch-milliseconds column (about 1.7e12) rounds to steps of
131,072 ms, so 200 distinct timestamps a few seconds apart would all become one value. Columns of wide
types (int32/int64, float64, decimal) whose values sit far from zero are therefore stored as
``value - offset``, computed in float64 before the cast, with one offset per column taken from the
train channel's footer statistics; the standardizer adds the offsets back (see ``model.Standardizer``).

Every problem raises ``DataError`` naming the channel, file and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
from channel_files import ChannelFiles, DataError, Part, is_feature_type

READ_BATCH_ROWS = 65_536
"""Rows converted per record batch (into a float32 scratch, then transposed into the row-major
matrix): large enough that per-batch Python overhead is noise (measured: 16Ki rows was slower)."""
DECODE_BUDGET_BYTES = 16 << 20
"""At most this many bytes of decoded columns at a time per channel: a row group that fits is decoded
in one call (as fast as ``read_table``); a larger one (Spark writes 128 MiB row groups, pyarrow up to
1Mi rows) is decoded a few columns at a time."""
THREADED_GROUP_ROWS = 8_192
"""Row groups from this size on are decoded with threads; for smaller ones thread start-up dominates."""
_EXACT_INT = 2**53
_WIDE_INTEGERS = (pa.int32(), pa.int64(), pa.uint32(), pa.uint64())


def decimal_to_float64(array: pa.Array) -> np.ndarray:
    """A decimal column as float64, each value the float nearest to the exact decimal.

    Arrow's own cast divides in floating point and is off by one ulp for about one value in seven
    (measured on decimal128(18, 2)). Here the unscaled integer is read from the 128-bit words: below
    2**53 it and the power of ten are exact floats, so one IEEE division rounds correctly; the rare
    larger values go through Python's correctly rounded ``int / int``. Null slots hold garbage (the
    caller counts nulls first).
    """
    if pa.types.is_decimal256(array.type):
        array = array.cast(pa.decimal128(38, array.type.scale))  # raises ArrowInvalid beyond 38 digits
    scale: int = array.type.scale
    words = np.frombuffer(array.buffers()[1], dtype="<i8")[2 * array.offset : 2 * (array.offset + len(array))]
    low, high = words[0::2], words[1::2]
    fits = (high == (low >> 63)) & (low > -_EXACT_INT) & (low < _EXACT_INT)
    unscaled = low.astype(np.float64)
    if 0 <= scale <= 22:  # 10**22 is the largest power of ten that is an exact float64
        out = unscaled / 10.0**scale
    elif -22 <= scale < 0:
        out = unscaled * 10.0**-scale
    else:
        out, fits = np.empty(len(array)), np.zeros(len(array), dtype=bool)
    out = np.asarray(out, dtype=np.float64)
    for index in np.flatnonzero(~fits):
        value = (int(high[index]) << 64) | int(low[index].view(np.uint64))
        out[index] = value / 10**scale if scale >= 0 else float(value * 10**-scale)
    return out


def column_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric, decimal or bool column as a numpy array (decimals exactly, as float64)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_decimal(column.type):
        return decimal_to_float64(column)
    values: np.ndarray = column.to_numpy(zero_copy_only=False)
    return values


def needs_offset(data_type: pa.DataType) -> bool:
    """Types whose values float32 may not hold exactly: wide integers, float64 and decimals."""
    return bool(data_type in _WIDE_INTEGERS or data_type == pa.float64() or pa.types.is_decimal(data_type))


def _first_values(part: Part, columns: list[str]) -> dict[str, float]:
    """The first row's values of ``columns`` in ``part`` (nulls as 0): the offset where no statistics exist."""
    with pq.ParquetFile(part.path) as parquet:
        batch = next(parquet.iter_batches(batch_size=1, columns=columns))
    return {name: float(np.nan_to_num(column_values(batch.column(name)).astype(np.float64))[0]) for name in columns}


def feature_offsets(train: ChannelFiles, features: list[str]) -> np.ndarray:
    """Per feature, the float64 offset subtracted before the cast to float32 (0 where none is needed).

    A column of a wide type whose values sit farther from zero than they spread gets the (integer)
    midpoint of the train channel's footer statistics, the same on every rank and in every channel; a
    column without statistics gets its first value. Others need none: float32 already holds them to
    its relative precision.
    """
    schema = train.parts[0].schema
    offsets = np.zeros(len(features))
    unknown = []
    for index, name in enumerate(features):
        if not needs_offset(schema.field(name).type):
            continue
        ranges = [part.ranges.get(name) for part in train.parts]
        if any(found is None for found in ranges):
            unknown.append(index)
            continue
        low, high = min(r[0] for r in ranges if r), max(r[1] for r in ranges if r)
        middle = (low + high) / 2
        if np.isfinite(middle) and abs(middle) > high - low:
            offsets[index] = round(middle)
    if unknown:
        first = _first_values(train.parts[0], [features[index] for index in unknown])
        for index in unknown:
            offsets[index] = round(first[features[index]]) if np.isfinite(first[features[index]]) else 0.0
    return offsets


@dataclass
class NullCounts:
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


def check_labels(channel: str, path: Path, column: pa.Array, label: str) -> np.ndarray:
    """The label column as numbers, or ``DataError`` when it is not binary 0/1 or has nulls."""
    if not is_feature_type(column.type):
        raise DataError(f"channel {channel}: file {path}: label column {label!r} must be binary 0/1, got {column.type}")
    if column.null_count:
        raise DataError(f"channel {channel}: file {path}: label column {label!r} has {column.null_count} null value(s)")
    values = column_values(column)
    binary = (values == 0) | (values == 1)
    if not binary.all():
        example = float(values[~binary][0])
        raise DataError(
            f"channel {channel}: file {path}: label column {label!r} must be binary 0/1, found value {example:g}"
        )
    return values


@dataclass
class Decoder:
    """Turns record batches of one channel into float32 ``value - offset`` columns, checking every value."""

    channel: str
    features: list[str]
    offsets: np.ndarray
    scratch: np.ndarray
    nulls: NullCounts = field(default_factory=NullCounts)

    @classmethod
    def for_channel(
        cls, channel: str, features: list[str], offsets: np.ndarray, rows: int = READ_BATCH_ROWS
    ) -> Decoder:
        return cls(channel, features, offsets, np.empty((len(features), rows), dtype=np.float32))

    def fill(self, part: Part, batch: pa.RecordBatch, columns: slice | None = None) -> np.ndarray:
        """The batch's feature columns (all, or ``columns``) as a ``(k, n)`` float32 view of the scratch.

        Each column lands in one contiguous write; the caller copies the transposed view into the
        row-major matrix in one pass, about twice as fast as writing each column with a row stride.
        """
        indices = range(len(self.features))[columns or slice(None)]
        out = self.scratch[: len(indices), : batch.num_rows]
        for row, index in enumerate(indices):
            name = self.features[index]
            column = batch.column(name)
            if column.null_count:
                self.nulls.add(name, column.null_count, part.path)
                continue  # the channel fails after counting every null; the values do not matter
            if self.offsets[index]:
                np.subtract(column_values(column), self.offsets[index], out=out[row], casting="unsafe")
            else:
                out[row] = column_values(column)
        # One float64 reduction instead of a boolean mask: NaN or inf anywhere makes the sum non-finite,
        # and finite float32 values cannot overflow a float64 sum.
        if not self.nulls.counts and not np.isfinite(out.sum(dtype=np.float64)):
            finite = np.isfinite(out).all(axis=1)
            bad = [self.features[index] for row, index in enumerate(indices) if not finite[row]]
            raise DataError(
                f"channel {self.channel}: file {part.path}: NaN or infinite values in feature column(s) {bad}"
            )
        return out


def overlapping_groups(part: Part, start: int, rows: range) -> list[tuple[int, int]]:
    """``(index, first global row)`` of each row group of ``part`` (starting at row ``start``) within ``rows``."""
    found, position = [], start
    for index, count in enumerate(part.row_groups):
        if count and position < rows.stop and position + count > rows.start:
            found.append((index, position))
        position += count
    return found


def column_slices(rows_in_group: int, columns: int) -> list[slice]:
    """Column ranges to decode together: all at once when they fit ``DECODE_BUDGET_BYTES``, else as many as fit."""
    per_read = max(1, DECODE_BUDGET_BYTES // max(1, rows_in_group * 8))
    return [slice(start, min(start + per_read, columns)) for start in range(0, columns, per_read)]


def stream_batch_rows(columns: int) -> int:
    """Rows per record batch when streaming: ``DECODE_BUDGET_BYTES`` of float64 columns, 1,024 to 65,536."""
    return max(1_024, min(READ_BATCH_ROWS, DECODE_BUDGET_BYTES // max(1, 8 * columns)))
