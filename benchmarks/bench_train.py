"""Benchmark the trainer against bare baselines, side by side (prints ratios, never asserts).

(a) steady-state training samples/s of the trainer's ``train_one_epoch`` + ``BatchLoader`` vs a bare
    PyTorch loop (same MLP, batch size, optimizer and threads); target >= 0.9x.
(b) the trainer's parquet -> validated float32 tensors load (``data.load_channels``) vs
    ``pyarrow.parquet.read_table`` of the same files; target <= 1.5x.
(c) peak host memory of loading plus standardizing (``load_channels`` + ``Standardizer.fit`` +
    ``transform_inplace``), measured in a fresh process as peak RSS growth over the process's RSS
    after its imports, against the size of the float32 feature matrix; target <= 1.5x plus a fixed
    overhead. Two sizes (half and all of ``--memory-rows``) separate the two: the marginal ratio is
    the growth per matrix byte, the fixed overhead what is left. The data is 1M-row row groups, the
    worst case for a reader that decodes whole row groups.

Usage: ``python benchmarks/bench_train.py [--rows 200000] [--features 32] [--memory-rows 2000000]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as train.py sets it, for both sides

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

TRAINING_SRC = Path(__file__).resolve().parent.parent / "training_src"
sys.path.insert(0, str(TRAINING_SRC))

HIDDEN = [64, 32]
DROPOUT = 0.1


def bench_loading(data_dir: Path, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` seconds: the trainer's loader vs ``pq.read_table`` on the same files."""
    from channel_files import find_parquet_files
    from data import load_channels

    files = [path for channel in ("train", "val", "test") for path in find_parquet_files(data_dir / channel)]
    for channel in ("train", "val", "test"):
        os.environ[f"SM_CHANNEL_{channel.upper()}"] = str(data_dir / channel)
    ours, baseline = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        channels, _ = load_channels("label", [])
        tensors = [(torch.from_numpy(c.features), torch.from_numpy(c.labels)) for c in channels.values()]
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        tables = [pq.read_table(path) for path in files]
        baseline.append(time.perf_counter() - started)
        del tensors, tables
    return min(ours), min(baseline)


def bench_training(data_dir: Path, batch_size: int, epochs: int) -> tuple[float, float]:
    """Median samples/s over ``epochs`` alternating epochs (after one warm-up each): trainer vs bare loop."""
    from data import load_channels
    from engine import BatchLoader, train_one_epoch
    from model import MLP, Standardizer

    os.environ["SM_CHANNEL_TRAIN"] = str(data_dir / "train")
    train = load_channels("label", [])[0]["train"]
    features = torch.from_numpy(Standardizer.fit(train.features).transform_inplace(train.features))
    labels = torch.from_numpy(train.labels)
    count = len(labels)
    torch.manual_seed(0)
    model = MLP(features.shape[1], HIDDEN, DROPOUT)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = BatchLoader(features, labels, batch_size, device=torch.device("cpu"), shuffle=True, seed=0)
    loss_fn = nn.BCEWithLogitsLoss()

    layers: list[nn.Module] = []
    width = features.shape[1]
    for hidden in HIDDEN:
        layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(DROPOUT)]
        width = hidden
    bare = nn.Sequential(*layers, nn.Linear(width, 1))
    bare_optimizer = torch.optim.AdamW(bare.parameters(), lr=1e-3)

    def trainer_epoch(epoch: int) -> float:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # progress lines are part of the cost, not the output
            train_one_epoch(model, loader, optimizer, loss_fn, epoch=epoch, epochs=epochs, log_interval=50)
        return count / (time.perf_counter() - started)

    def bare_epoch(_: int) -> float:
        started = time.perf_counter()
        bare.train()
        order = torch.randperm(count)
        for start in range(0, count, batch_size):
            index = order[start : start + batch_size]
            bare_optimizer.zero_grad()
            loss = loss_fn(bare(features[index]).squeeze(-1), labels[index])
            loss.backward()
            bare_optimizer.step()
        return count / (time.perf_counter() - started)

    trainer_epoch(0)
    bare_epoch(0)
    ours, baseline = [], []
    for epoch in range(1, epochs + 1):  # alternate which side goes first, to spread machine noise evenly
        if epoch % 2:
            ours.append(trainer_epoch(epoch))
            baseline.append(bare_epoch(epoch))
        else:
            baseline.append(bare_epoch(epoch))
            ours.append(trainer_epoch(epoch))
    return statistics.median(ours), statistics.median(baseline)


def write_memory_data(data_dir: Path, rows: int, features: int) -> int:
    """train (``rows``) and val (``rows // 10``) of float64 features in 1M-row row groups; returns matrix bytes."""
    rng = np.random.default_rng(0)
    for channel, count in (("train", rows), ("val", rows // 10)):
        (data_dir / channel).mkdir(parents=True)
        for part, start in enumerate(range(0, count, 1_000_000)):
            size = min(1_000_000, count - start)
            columns = {f"f{i}": rng.standard_normal(size) * (i + 1) + i for i in range(features)}
            table = pa.table({**columns, "label": rng.integers(0, 2, size)})
            pq.write_table(table, data_dir / channel / f"part-{part:05d}.parquet", row_group_size=1_000_000)
    return (rows + rows // 10) * features * 4


def _status_kib(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` figure of this process from ``/proc/self/status`` (Linux), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def measure_memory(data_dir: Path) -> None:
    """Child process: peak RSS growth of loading plus standardizing over the RSS after imports, as JSON.

    ``ru_maxrss`` survives ``exec`` (it would report the parent's peak), so the peak is read from
    ``VmHWM`` after resetting it with ``/proc/self/clear_refs``; elsewhere ``ru_maxrss`` is used.
    """
    import data
    import model

    for channel in ("train", "val"):
        os.environ[f"SM_CHANNEL_{channel.upper()}"] = str(data_dir / channel)
    os.environ["SM_CHANNEL_TEST"] = str(data_dir / "absent")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS to the current RSS
        baseline = _status_kib("VmRSS")
    except OSError:
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    channels, _ = data.load_channels("label", [])
    standardizer = model.Standardizer.fit(channels["train"].features)
    for loaded in channels.values():
        standardizer.transform_inplace(loaded.features)
    seconds = time.perf_counter() - started
    try:
        peak = _status_kib("VmHWM")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_bytes": (peak - baseline) * 1024, "seconds": seconds}))


def bench_memory(rows: int, features: int) -> tuple[int, int, float]:
    """Peak RSS growth of loading plus standardizing in a fresh process, the matrix size, and the seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        matrix = write_memory_data(Path(tmp), rows, features)
        command = [sys.executable, __file__, "--measure-memory", tmp]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return int(measured["growth_bytes"]), matrix, float(measured["seconds"])


def main() -> None:
    """Generate data, run the comparisons and print raw numbers and ratios."""
    parser = argparse.ArgumentParser(description="Trainer throughput, parquet loading and memory vs bare baselines.")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--load-repeats", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, default=2_000_000, help="train rows of (c); val has a tenth")
    parser.add_argument("--measure-memory", type=Path, help=argparse.SUPPRESS)  # the child process of (c)
    args = parser.parse_args()
    if args.measure_memory:
        measure_memory(args.measure_memory)
        return

    import synthetic_data

    threads = max(1, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        synthetic_data.write_dataset(data_dir, rows=args.rows, features=args.features, seed=0)
        print(f"data: {args.rows} rows x {args.features} features (+1 string column); {threads} torch threads")
        ours_load, read_table = bench_loading(data_dir, args.load_repeats)
        ours_rate, bare_rate = bench_training(data_dir, args.batch_size, args.epochs)
    small = bench_memory(args.memory_rows // 2, args.features)
    growth, matrix, seconds = bench_memory(args.memory_rows, args.features)
    marginal = (growth - small[0]) / (matrix - small[1])
    mib = 1 << 20
    print(
        f"(a) training: trainer {ours_rate:,.0f} samples/s, bare loop {bare_rate:,.0f} samples/s, "
        f"ratio {ours_rate / bare_rate:.2f}x (target >= 0.9x)"
    )
    print(
        f"(b) loading:  trainer {ours_load * 1000:.1f} ms, pyarrow.parquet.read_table {read_table * 1000:.1f} ms, "
        f"ratio {ours_load / read_table:.2f}x (target <= 1.5x)"
    )
    print(
        f"(c) memory:   load + standardize {args.memory_rows:,} + {args.memory_rows // 10:,} rows x {args.features} "
        f"in {seconds:.1f} s: peak RSS +{growth / mib:,.0f} MiB for a {matrix / mib:,.0f} MiB float32 matrix "
        f"({growth / matrix:.2f}x); half the rows: +{small[0] / mib:,.0f} MiB for {small[1] / mib:,.0f} MiB; "
        f"marginal {marginal:.2f}x the matrix plus a fixed {(growth - marginal * matrix) / mib:,.0f} MiB "
        f"(target <= 1.5x plus a fixed overhead)"
    )


if __name__ == "__main__":
    main()
