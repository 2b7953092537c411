"""A small seeded synthetic binary-classification dataset in the pipeline's channel layout.

Writes ``<out>/train/train.parquet``, ``<out>/val/val.parquet`` and ``<out>/test/test.parquet`` with
numeric features ``f0..f{n-1}``, a non-numeric ``category`` column (which the trainer must ignore)
and an int ``label``.

Usage: ``python synthetic_data.py --out-dir local_data [--rows 20000] [--features 8] [--seed 0]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # ships no type stubs; not worth a stubs dependency in the container

SPLITS = (("train", 0.7), ("val", 0.15), ("test", 0.15))


def make_table(rows: int, features: int, seed: int) -> pa.Table:
    """Features drawn from a standard normal (scaled per column); label from a noisy nonlinear score."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)) * rng.uniform(0.5, 20.0, size=features) + rng.uniform(-5, 5, features)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    weights = rng.standard_normal(features)
    score = z @ weights + 0.8 * z[:, 0] * z[:, min(1, features - 1)] + rng.normal(0, 1.0, rows)
    label = (score > np.median(score)).astype(np.int64)
    columns: dict[str, object] = {f"f{index}": x[:, index] for index in range(features)}
    columns["category"] = rng.choice(np.array(["red", "green", "blue"]), size=rows)
    columns["label"] = label
    return pa.table(columns)


def write_dataset(out_dir: Path, rows: int = 20_000, features: int = 8, seed: int = 0) -> dict[str, Path]:
    """Write the three channels under ``out_dir``; returns each channel's directory."""
    table = make_table(rows, features, seed)
    paths: dict[str, Path] = {}
    start = 0
    for index, (channel, fraction) in enumerate(SPLITS):
        stop = rows if index == len(SPLITS) - 1 else start + int(rows * fraction)
        directory = out_dir / channel
        directory.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(start, stop - start), directory / f"{channel}.parquet")
        paths[channel] = directory
        start = stop
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for channel, directory in write_dataset(args.out_dir, args.rows, args.features, args.seed).items():
        print(f"wrote {channel}: {directory}")


if __name__ == "__main__":
    main()
