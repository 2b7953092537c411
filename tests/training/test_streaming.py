"""Streaming: every row of a rank's share once per epoch (padded like ``DistributedSampler``), in an order
that changes with the epoch and the rank and mixes row groups, standardized exactly as in memory; a bad
value found by the first pass; the background reader's errors reach the training loop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import streaming
import torch
from batches import BatchLoader, StreamLoader
from channel_files import DataError
from data import load_planned, plan_data
from model import Moments, Standardizer
from streaming import Batch, StreamedChannel, epoch_rng, in_order, prefetched, shuffled_epoch

ROWS, GROUP = 1000, 64


@pytest.fixture()
def channels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """train (row ``i`` has ``f0 == i``, in two files of 64-row groups) and val."""
    for channel, rows in (("train", ROWS), ("val", 300)):
        (tmp_path / channel).mkdir()
        index = np.arange(rows, dtype=np.float64)
        for part, piece in enumerate(np.array_split(index, 2)):
            table = pa.table({"f0": piece, "f1": piece * 2 + 1e12, "label": (piece % 2).astype(np.int64)})
            pq.write_table(table, tmp_path / channel / f"part-{part}.parquet", row_group_size=GROUP)
        monkeypatch.setenv(f"SM_CHANNEL_{channel.upper()}", str(tmp_path / channel))
    monkeypatch.setenv("SM_CHANNEL_TEST", str(tmp_path / "absent"))
    monkeypatch.setattr(streaming, "SHUFFLE_BUFFER_BYTES", 256 * 12)  # 256 rows: many buffer turns
    return tmp_path


def _source(rank: int = 0, world_size: int = 1, channel: str = "train") -> StreamedChannel:
    plan = plan_data("label", [], world_size=world_size)
    source = StreamedChannel(plan.channels[channel], plan, plan.shares(rank, world_size)[channel])
    source.standardizer = Standardizer(plan.offsets.copy(), np.ones(2))  # values minus offsets, unscaled
    return source


def _epoch_rows(source: StreamedChannel, epoch: int, rank: int = 0, rows: int | None = None) -> list[int]:
    batches = list(shuffled_epoch(source, 32, epoch_rng(7, epoch, rank), rows or len(source.rows)))
    assert all(len(y) == 32 for _, y in batches[:-1])
    return [int(value) for features, _ in batches for value in features[:, 0]]


def test_each_epoch_streams_every_row_once_in_a_new_order(channels: Path) -> None:
    source = _source()
    first, second = _epoch_rows(source, 1), _epoch_rows(source, 2)
    assert sorted(first) == sorted(second) == list(range(ROWS))
    assert first != second and _epoch_rows(source, 1) == first  # set_epoch matters; the same epoch repeats
    groups_in_first_batch = {row // GROUP for row in first[:32]}
    assert len(groups_in_first_batch) > 2, "the shuffle buffer mixes row groups"


def test_rank_shares_partition_the_rows_and_pad_to_the_largest(channels: Path) -> None:
    sources = [_source(rank, 3) for rank in range(3)]
    largest = max(len(source.rows) for source in sources)
    seen = [_epoch_rows(source, 1, rank, largest) for rank, source in enumerate(sources)]
    assert all(len(rows) == largest for rows in seen)
    assert sorted(row for rows in seen for row in set(rows)) == list(range(ROWS))
    assert seen[0][:10] != seen[1][:10]


def test_first_pass_and_in_order_reading_match_memory(channels: Path) -> None:
    plan = plan_data("label", [])
    held = load_planned(plan)["train"]
    scan = _source().scan()
    assert (scan.rows, scan.positives) == (ROWS, ROWS // 2)
    memory = Moments.of(held.features)
    np.testing.assert_allclose(scan.moments.mean, memory.mean, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(scan.moments.m2, memory.m2, rtol=1e-9)
    streamed = np.concatenate([x for x, _ in in_order(_source(), 100)])
    np.testing.assert_array_equal(streamed, held.features)  # the same float32 values, offsets included
    assert plan.offsets[1] != 0  # f1 sits near 1e12: it is stored minus an offset


def test_a_bad_value_stops_the_first_pass(channels: Path) -> None:
    path = channels / "val" / "part-1.parquet"
    table = pq.read_table(path)
    values = table.column("f0").to_numpy().copy()
    values[3] = np.nan
    pq.write_table(table.set_column(0, "f0", pa.array(values)), path)
    with pytest.raises(DataError, match=r"channel val: file .*part-1.parquet: NaN or infinite .*\['f0'\]"):
        _source(channel="val").scan()


def test_stream_loader_batches_match_the_memory_loader_in_order(channels: Path) -> None:
    source = _source()
    plan = source.plan
    held = load_planned(plan)["train"]
    source.standardizer.transform_inplace(held.features, plan.offsets)  # type: ignore[union-attr]
    cpu = torch.device("cpu")
    memory = BatchLoader(torch.from_numpy(held.features), torch.from_numpy(held.labels), 96, device=cpu)
    streamed = StreamLoader(source, 96, device=cpu)
    assert len(streamed) == len(memory)
    for (x1, y1), (x2, y2) in zip(streamed, memory, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    shuffled = StreamLoader(source, 96, device=cpu, shuffle=True, seed=3, epoch_rows=ROWS + 1)
    shuffled.set_epoch(2)
    assert len(shuffled) == len(list(shuffled)) == (ROWS + 1 + 95) // 96


def test_prefetch_raises_the_readers_error_and_stops_early() -> None:
    def failing() -> Iterator[Batch]:
        yield np.zeros((1, 1)), np.zeros(1)
        raise DataError("channel train: broken")

    with pytest.raises(DataError, match="broken"):
        list(prefetched(failing))
    produced = []

    def endless() -> Iterator[Batch]:
        for step in range(10**9):
            produced.append(step)
            yield np.zeros((1, 1)), np.zeros(1)

    batches = prefetched(endless, depth=2)
    next(batches)
    batches.close()  # as a capped epoch (max_steps) leaves the loop
    assert len(produced) < 10
