"""Reading channels laid out like real exports: markers, nested partitions, empty parts, pandas index,
bool and nullable-int columns, thousands of parts with few file handles, per-rank shards, bounded memory.

SageMaker copies every object under a channel's ``S3Uri`` key prefix into the channel directory:
"If you choose S3Prefix, S3Uri identifies a key name prefix. SageMaker uses all objects that match
the specified key name prefix for model training." (S3DataSource, Amazon SageMaker API Reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html). So with the
channel pointing at ``<input>/<channel>/``, an export's markers and partition folders arrive as they are.
"""

from __future__ import annotations

import os
import resource
import tracemalloc
from pathlib import Path

import decode
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from channel_files import find_parquet_files
from data import DataError, load_channels, shard_range
from exports import PARTITION, example_frame, write_export, write_export_dataset
from model import Moments, Standardizer

FEATURES = ["f0", "f1", "f2", "flag", "count"]


def _point_channels(monkeypatch: pytest.MonkeyPatch, root: Path, channels: tuple[str, ...]) -> None:
    for channel in ("train", "val", "test"):
        target = root / channel if channel in channels else root / "absent"
        monkeypatch.setenv(f"SM_CHANNEL_{channel.upper()}", str(target))


def _sorted_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.lexsort(matrix.T[::-1])]


@pytest.fixture(scope="module")
def export_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    root = tmp_path_factory.mktemp("export")
    return root, write_export_dataset(root, rows=1200, parts=5)


def test_only_data_files_in_a_stable_order(export_root: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    root, _ = export_root
    names = [path.relative_to(root / "train").as_posix() for path in find_parquet_files(root / "train")]
    assert names == [
        f"{PARTITION}/part-00001-c000.snappy.parquet",
        f"{PARTITION}/part-00003-c000.snappy.parquet",
        "part-00000-c000.snappy.parquet",
        "part-00002-c000.snappy.parquet",
        "part-00004-c000.snappy.parquet",
        "part-00005-c000.snappy.parquet",  # the 0-row part: listed, skipped when read
    ]


def test_export_reads_every_row_without_the_pandas_index(
    export_root: tuple[Path, dict[str, pd.DataFrame]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, frames = export_root
    assert "__index_level_0__" in pq.read_schema(root / "train" / "part-00000-c000.snappy.parquet").names
    _point_channels(monkeypatch, root, ("train", "val", "test"))
    channels, features = load_channels("label", [])
    assert features == FEATURES  # the saved index and the string column are not features
    for name, frame in frames.items():
        data = channels[name]
        assert data.total_rows == len(frame) == len(data.labels) and data.empty_parts == 1
        expected = frame[FEATURES].astype(np.float32).to_numpy()  # bool as 0/1, nullable ints as numbers
        np.testing.assert_array_equal(_sorted_rows(data.features), _sorted_rows(expected))
        assert data.labels.sum() == frame["label"].sum()


@pytest.mark.parametrize(("world_size", "decode_bytes"), [(2, 64 << 20), (3, 64 << 20), (2, 100)])
def test_rank_shards_partition_the_rows_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, world_size: int, decode_bytes: int
) -> None:
    """Row groups of 7 rows; with a 100-byte decode budget every column of a row group is read on its own."""
    monkeypatch.setattr(decode, "DECODE_BUDGET_BYTES", decode_bytes)
    for channel in ("train", "val"):
        write_export(example_frame(101, seed=world_size), tmp_path / channel, parts=4, row_group_size=7)
    _point_channels(monkeypatch, tmp_path, ("train", "val"))
    whole, _ = load_channels("label", [])
    shards = [load_channels("label", [], rank=rank, world_size=world_size)[0] for rank in range(world_size)]
    for channel in ("train", "val"):
        sizes = [len(shard[channel].labels) for shard in shards]
        assert sizes == [len(shard_range(101, rank, world_size)) for rank in range(world_size)]
        assert max(sizes) - min(sizes) <= 1
        joined = np.concatenate([shard[channel].features for shard in shards])
        np.testing.assert_array_equal(joined, whole[channel].features)
        np.testing.assert_array_equal(
            np.concatenate([shard[channel].labels for shard in shards]), whole[channel].labels
        )
    frame = pd.concat([pd.read_parquet(path) for path in find_parquet_files(tmp_path / "train")])
    np.testing.assert_array_equal(whole["train"].features, frame[FEATURES].astype(np.float32).to_numpy())


def test_more_ranks_than_rows_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for channel in ("train", "val"):
        write_export(example_frame(3), tmp_path / channel, parts=1)
    _point_channels(monkeypatch, tmp_path, ("train", "val"))
    with pytest.raises(DataError, match=r"channel train: 3 row.*4 processes"):
        load_channels("label", [], rank=0, world_size=4)


def test_five_thousand_parts_load_with_few_open_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "val").mkdir()
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "label": [0, 1, 0]}), tmp_path / "val" / "part-0.parquet")
    content = (tmp_path / "val" / "part-0.parquet").read_bytes()
    (tmp_path / "train").mkdir()
    for index in range(5000):
        (tmp_path / "train" / f"part-{index:05d}.parquet").write_bytes(content)
    _point_channels(monkeypatch, tmp_path, ("train", "val"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = len(os.listdir("/proc/self/fd")) + 64  # far fewer handles than parts
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        channels, _ = load_channels("label", [])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert channels["train"].total_rows == 15000 and channels["train"].features.sum() == 5000 * 6.0


def test_load_and_standardize_peak_stays_near_the_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy's allocations (traced by tracemalloc) peak at about one float32 feature matrix, not 4.45x."""
    rows, width = 200_000, 8
    rng = np.random.default_rng(0)
    for channel in ("train", "val"):
        (tmp_path / channel).mkdir()
        columns = {f"f{i}": rng.standard_normal(rows) * 5 + i for i in range(width)}
        pq.write_table(pa.table({**columns, "label": rng.integers(0, 2, rows)}), tmp_path / channel / "p.parquet")
    _point_channels(monkeypatch, tmp_path, ("train", "val"))
    matrix_bytes = 2 * rows * width * 4
    tracemalloc.start()
    try:
        channels, _ = load_channels("label", [])
        standardizer = Standardizer.fit(channels["train"].features)
        for data in channels.values():
            standardizer.transform_inplace(data.features)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        copy = Standardizer.transform(standardizer, channels["train"].features)  # what a copying step would cost
        _, copy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 1.5 * matrix_bytes, peak / matrix_bytes
    assert copy_peak >= current + copy.nbytes  # the measurement does see a full-size copy
    train = channels["train"].features
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-4)


def test_moments_merge_like_one_pass() -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((50_000, 4)) * [1, 10, 1e3, 1e-3] + [0, 5, -7e3, 1]).astype(np.float32)
    merged = Moments.of(x[:12_345]).merge(Moments.of(x[12_345:]))
    fitted = Standardizer.from_moments(merged)
    np.testing.assert_allclose(fitted.mean, x.astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(fitted.std, x.astype(np.float64).std(axis=0), rtol=1e-5)
    constant = Standardizer.fit(np.ones((10, 2), dtype=np.float32))
    assert constant.std.tolist() == [1.0, 1.0]
