"""Benchmark the trainer against bare baselines, side by side in one process (prints ratios, never asserts).

(a) steady-state training samples/s of the trainer's ``train_one_epoch`` + ``BatchLoader`` vs a bare
    PyTorch loop (same MLP, batch size, optimizer and threads); target >= 0.9x.
(b) the trainer's parquet -> validated float32 tensors load (``data.load_channels``) vs
    ``pyarrow.parquet.read_table`` of the same files; target <= 1.5x.

Usage: ``python benchmarks/bench_train.py [--rows 200000] [--features 32] [--epochs 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as train.py sets it, for both sides

import pyarrow.parquet as pq
import torch
from torch import nn

TRAINING_SRC = Path(__file__).resolve().parent.parent / "training_src"
sys.path.insert(0, str(TRAINING_SRC))

HIDDEN = [64, 32]
DROPOUT = 0.1


def bench_loading(data_dir: Path, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` seconds: the trainer's loader vs ``pq.read_table`` on the same files."""
    from data import find_parquet_files, load_channels

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
    features = torch.from_numpy(Standardizer.fit(train.features).transform(train.features))
    labels = torch.from_numpy(train.labels)
    count = len(labels)
    torch.manual_seed(0)
    model = MLP(features.shape[1], HIDDEN, DROPOUT)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = BatchLoader(features, labels, batch_size, shuffle=True, seed=0)
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


def main() -> None:
    """Generate data, run both comparisons and print raw numbers and ratios."""
    parser = argparse.ArgumentParser(description="Trainer throughput and parquet loading vs bare baselines.")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--load-repeats", type=int, default=5)
    args = parser.parse_args()

    import synthetic_data

    threads = max(1, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        synthetic_data.write_dataset(data_dir, rows=args.rows, features=args.features, seed=0)
        print(f"data: {args.rows} rows x {args.features} features (+1 string column); {threads} torch threads")
        ours_load, read_table = bench_loading(data_dir, args.load_repeats)
        ours_rate, bare_rate = bench_training(data_dir, args.batch_size, args.epochs)
    print(
        f"(a) training: trainer {ours_rate:,.0f} samples/s, bare loop {bare_rate:,.0f} samples/s, "
        f"ratio {ours_rate / bare_rate:.2f}x (target >= 0.9x)"
    )
    print(
        f"(b) loading:  trainer {ours_load * 1000:.1f} ms, pyarrow.parquet.read_table {read_table * 1000:.1f} ms, "
        f"ratio {ours_load / read_table:.2f}x (target <= 1.5x)"
    )


if __name__ == "__main__":
    main()
