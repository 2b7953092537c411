"""Channel folders laid out the way real exports land in S3, for the trainer's tests.

Spark, Glue and Athena UNLOAD write ``part-*.parquet`` files plus ``_SUCCESS`` / ``_committed_*``
markers and hidden ``.crc`` checksums; Spark keeps in-progress files under ``_temporary/``; pandas
stores a shuffled frame's index as ``__index_level_0__``; Hive-style partitions add folders such
as ``dt=2026-11-01/``; and a writer with nothing left for a task writes a 0-row part.
"""

from __future__ import annotations

import decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

PARTITION = "dt=2026-11-01"
EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def example_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Float features ``f0``-``f2``, a bool and a nullable-int feature, a string column and a 0/1 label."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 3))
    score = x @ np.array([1.5, -1.0, 0.5]) + rng.normal(0, 0.5, rows)
    return pd.DataFrame({
        "f0": x[:, 0], "f1": x[:, 1], "f2": x[:, 2] * 10 + 3,
        "flag": score + rng.normal(0, 1, rows) > 0,
        "count": pd.array(rng.integers(0, 50, rows), dtype="Int64"),
        "category": rng.choice(["red", "green", "blue"], size=rows),
        "label": (score > 0).astype(np.int64),
    })  # fmt: skip


def write_export(frame: pd.DataFrame, directory: Path, parts: int, *, row_group_size: int | None = None) -> None:
    """Write ``frame`` shuffled (so pandas saves its index) as ``parts`` parts plus markers, junk and an empty part."""
    shuffled = frame.sample(frac=1.0, random_state=1)
    (directory / PARTITION).mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(shuffled), parts + 1).astype(int)
    for index in range(parts):
        folder = directory / PARTITION if index % 2 else directory
        chunk = shuffled.iloc[bounds[index] : bounds[index + 1]]
        chunk.to_parquet(folder / f"part-{index:05d}-c000.snappy.parquet", row_group_size=row_group_size)
    shuffled.iloc[:0].to_parquet(directory / f"part-{parts:05d}-c000.snappy.parquet")  # a 0-row part
    (directory / "_SUCCESS").write_bytes(b"")
    (directory / "_committed_1234").write_text('{"added": []}')
    (directory / ".part-00000-c000.snappy.parquet.crc").write_bytes(b"crc")
    (directory / ".hidden.parquet").write_bytes(b"not parquet")
    (directory / "_temporary" / "0").mkdir(parents=True)
    (directory / "_temporary" / "0" / "part-99999.parquet").write_bytes(b"an unfinished task's file")


def write_export_dataset(root: Path, rows: int = 3000, parts: int = 4) -> dict[str, pd.DataFrame]:
    """train/val/test exports under ``root`` (70/15/15); returns each channel's frame."""
    frame = example_frame(rows)
    cut = [0, int(rows * 0.7), int(rows * 0.85), rows]
    frames = {name: frame.iloc[cut[i] : cut[i + 1]] for i, name in enumerate(("train", "val", "test"))}
    for name, channel_frame in frames.items():
        write_export(channel_frame, root / name, parts)
    return frames


def athena_table(rows: int, seed: int) -> pa.Table:
    """An Athena-like export: decimal money, epoch-ms int64, and non-numeric columns of four kinds."""
    rng = np.random.default_rng(seed)
    cents = rng.integers(-(10**9), 10**9, rows)
    stamps = EPOCH_MS + rng.integers(0, 200, rows) * 7  # 200 distinct values within 1.4 s
    score = cents / 1e9 + (stamps - EPOCH_MS) / 1400 + rng.normal(0, 0.3, rows)
    return pa.table({
        "amount": pa.array([decimal.Decimal(int(c)).scaleb(-2) for c in cents], type=pa.decimal128(18, 2)),
        "event_ms": pa.array(stamps, type=pa.int64()),
        "x": rng.standard_normal(rows),
        "customer": pa.array([f"c{i % 17}" for i in range(rows)]),
        "created": pa.array(stamps * 1000, type=pa.timestamp("us")),
        "segment": pa.array([["a", "b", "c"][i % 3] for i in range(rows)]).dictionary_encode(),
        "blob": pa.array([b"\x00\x01"] * rows, type=pa.binary()),
        "label": (score > np.median(score)).astype(np.int64),
    })  # fmt: skip
