"""Data larger than memory (``make test-scale``; minutes, so not part of ``make test``): a train channel of
2.1x a cgroup's memory limit trains by streaming with peak RSS under the limit, and forcing it into memory
stops at once with the memory needed, the memory available and the fix, instead of an OOM kill.

Before streaming, this process was killed by the kernel (``ExitCode -9``, no reason) while loading.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from memory_cap import can_cap, run_capped
from trainer_harness import TRAIN_SCRIPT, job_env

pytestmark = [pytest.mark.slow, pytest.mark.scale, pytest.mark.skipif(not can_cap(), reason="needs a memory cgroup")]

MIB = 1 << 20
LIMIT = 1280 * MIB
FEATURES = 256
GROUP_ROWS = 32_768
ARGS = ["--epochs", "1", "--batch_size", "4096", "--hidden_sizes", "[32]", "--log_interval_steps", "200"]


def write_channel(directory: Path, rows: int, seed: int, parts: int = 4) -> int:
    """``rows`` rows of float32 features in 32Ki-row groups over ``parts`` files; returns the float32 matrix bytes."""
    rng = np.random.default_rng(seed)
    weights = np.random.default_rng(99).standard_normal(FEATURES).astype(np.float32)  # one model for every channel
    directory.mkdir(parents=True)
    per_part = -(-rows // parts)
    for part in range(parts):
        count = min(per_part, rows - part * per_part)
        with pq.ParquetWriter(directory / f"part-{part:05d}.parquet", _schema()) as writer:
            for start in range(0, count, GROUP_ROWS):
                size = min(GROUP_ROWS, count - start)
                x = rng.standard_normal((size, FEATURES), dtype=np.float32)
                label = (x @ weights + rng.standard_normal(size, dtype=np.float32) > 0).astype(np.int8)
                columns = [pa.array(x[:, index]) for index in range(FEATURES)] + [pa.array(label)]
                writer.write_table(pa.Table.from_arrays(columns, schema=_schema()), row_group_size=GROUP_ROWS)
    return rows * (FEATURES + 1) * 4


def _schema() -> pa.Schema:
    return pa.schema([*(pa.field(f"f{index}", pa.float32()) for index in range(FEATURES)), ("label", pa.int8())])


@pytest.fixture(scope="module")
def big_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    root = tmp_path_factory.mktemp("big")
    train_bytes = write_channel(root / "train", int(2.1 * LIMIT / ((FEATURES + 1) * 4)), seed=0)
    write_channel(root / "val", 20_000, seed=1, parts=1)
    return root, train_bytes


def test_a_train_channel_twice_the_memory_limit_streams_under_the_limit(
    big_data: tuple[Path, int], tmp_path: Path
) -> None:
    root, train_bytes = big_data
    assert train_bytes >= 2 * LIMIT
    env = job_env(tmp_path, root, channels=("train", "val"))
    code, peak, output = run_capped([sys.executable, str(TRAIN_SCRIPT), *ARGS], LIMIT, env, timeout=1500)
    assert code == 0, output[-4000:]
    print(f"peak RSS {peak / MIB:,.0f} MiB, cgroup limit {LIMIT / MIB:,.0f} MiB, train {train_bytes / MIB:,.0f} MiB")
    assert peak < LIMIT, (peak / MIB, output[-2000:])
    assert "data loading: streamed (holding the data needs" in output and "cgroup v" in output, output[-3000:]
    meta = json.loads((tmp_path / "model" / "model_meta.json").read_text())
    assert meta["data_loading"] == "stream" and meta["metrics"]["val"]["auroc"] > 0.8


def test_forcing_it_into_memory_stops_at_once_with_the_reason(big_data: tuple[Path, int], tmp_path: Path) -> None:
    root, _ = big_data
    env = job_env(tmp_path, root, channels=("train", "val"))
    command = [sys.executable, str(TRAIN_SCRIPT), *ARGS, "--data_loading", "memory"]
    code, peak, _ = run_capped(command, LIMIT, env, timeout=600)
    assert code == 1  # not -9: the trainer stopped itself, before loading
    reason = (tmp_path / "output" / "failure").read_text()
    assert re.match(r"data_loading=memory: holding the data needs \d\.\d\d GiB \(train 2,7\d\d,\d\d\d rows", reason), (
        reason
    )
    assert "GiB available (cgroup v" in reason
    assert "set data_loading=auto or stream" in reason
    assert peak < LIMIT // 2
