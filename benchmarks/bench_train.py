"""Benchmark the trainer against baselines, side by side (prints ratios, never asserts).

(a) steady-state training samples/s on the CPU of the trainer's ``train_one_epoch`` + ``BatchLoader`` vs a
    tuned reference loop (``tuned_loop.py``: same MLP and batch size, data and shuffle on the device);
    target >= 0.8x. ``make gpu-check`` prints the same ratio on a GPU.
(b) the trainer's parquet -> validated float32 tensors load (``data.load_channels``) vs
    ``pyarrow.parquet.read_table`` of the same files; target <= 1.5x.
(c) peak host memory of loading plus standardizing (``load_channels`` + ``Standardizer.fit`` +
    ``transform_inplace``), measured in a fresh process as peak RSS growth over the process's RSS
    after its imports, against the size of the float32 feature matrix; target <= 1.5x plus a fixed
    overhead. Two sizes (half and all of ``--memory-rows``) separate the two: the marginal ratio is
    the growth per matrix byte, the fixed overhead what is left. The data is 1M-row row groups, the
    worst case for a reader that decodes whole row groups.
(d) peak RSS of one epoch of ``train.py`` on a train channel 2.1x a cgroup memory limit, run under that
    limit (it streams); target < 1x the limit. Needs root (a child of this process's memory cgroup).
(e) serving: decoding a 10k-row CSV, JSON and .npy request vs the model's predict on the same rows, one
    torch thread as a serving worker; target <= 2x the model.

Usage: ``python benchmarks/bench_train.py [--rows 200000] [--features 32] [--memory-rows 2000000]
[--stream-limit-mib 1280] [--decode-rows 10000]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as train.py sets it, for both sides

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

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
    """Median samples/s on the CPU: the trainer's loop vs the tuned reference loop (``tuned_loop.compare``)."""
    from data import load_channels
    from model import Standardizer
    from tuned_loop import compare

    os.environ["SM_CHANNEL_TRAIN"] = str(data_dir / "train")
    train = load_channels("label", [])[0]["train"]
    features = torch.from_numpy(Standardizer.fit(train.features).transform_inplace(train.features))
    return compare(features, torch.from_numpy(train.labels), batch_size, torch.device("cpu"), epochs)


def bench_streaming(limit_mib: int) -> tuple[int, int, int, str]:
    """Peak RSS of a one-epoch training run on a train channel 2.1x a cgroup memory limit, run under that limit."""
    sys.path.insert(0, str(TRAINING_SRC.parent / "tests" / "training"))
    from memory_cap import can_cap, run_capped
    from test_big_data import ARGS, FEATURES, write_channel
    from trainer_harness import TRAIN_SCRIPT, job_env

    if not can_cap():
        return 0, 0, 0, "skipped: no memory cgroup to create a child in (needs root)"
    limit = limit_mib << 20
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train_bytes = write_channel(root / "train", int(2.1 * limit / ((FEATURES + 1) * 4)), seed=0)
        write_channel(root / "val", 20_000, seed=1, parts=1)
        env = job_env(root / "job", root, channels=("train", "val"))
        code, peak, output = run_capped([sys.executable, str(TRAIN_SCRIPT), *ARGS], limit, env, timeout=3600)
    mode = next((line for line in output.splitlines() if line.startswith("data loading: ")), "no mode line")
    return code, peak, train_bytes, mode


def bench_decoding(rows: int, features: int, repeats: int = 5) -> dict[str, float]:
    """Best-of seconds: decoding ``rows`` rows of CSV, JSON and .npy, and the model's predict on them (1 thread)."""
    import json as json_module

    from inference import Predictor
    from model import MLP, Standardizer
    from serving_codec import decode_request

    torch.set_num_threads(1)  # as a serving worker
    rng = np.random.default_rng(0)
    values = rng.standard_normal((rows, features)) * 10
    names = [f"f{index}" for index in range(features)]
    predictor = Predictor(MLP(features, HIDDEN, DROPOUT), Standardizer(np.zeros(features), np.ones(features)),
                          {"feature_columns": names})  # fmt: skip
    buffer = io.BytesIO()
    np.save(buffer, values)
    bodies = {
        "csv": ("".join(",".join(repr(float(v)) for v in row) + "\n" for row in values).encode(), "text/csv"),
        "json": (json_module.dumps([dict(zip(names, map(float, row), strict=True)) for row in values]).encode(),
                 "application/json"),
        "npy": (buffer.getvalue(), "application/x-npy"),
    }  # fmt: skip

    def best(action: Callable[[], object]) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
        return min(times)

    timings = {kind: best(lambda body=body, kind_=kind_: decode_request(body, kind_).matrix(names))
               for kind, (body, kind_) in bodies.items()}  # fmt: skip
    import request_rows  # CSV again without pandas, as in the inference image's EC2 stage

    reader = request_rows.csv_reader
    request_rows.csv_reader = lambda: None  # type: ignore[assignment]
    try:
        timings["csv without pandas"] = best(lambda: decode_request(*bodies["csv"]).matrix(names))
    finally:
        request_rows.csv_reader = reader
    matrix = decode_request(*bodies["npy"]).matrix(names)
    timings["model"] = best(lambda: predictor.predict_proba(matrix))
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return timings


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
    parser.add_argument("--stream-limit-mib", type=int, default=1280, help="cgroup limit of (d); 0 skips (d)")
    parser.add_argument("--decode-rows", type=int, default=10_000, help="rows per request of (e)")
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
        f"(a) training: trainer {ours_rate:,.0f} samples/s, tuned loop (data and shuffle on the device) "
        f"{bare_rate:,.0f} samples/s, batch {args.batch_size}, CPU: ratio {ours_rate / bare_rate:.2f}x (target >= 0.8x)"
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
    if args.stream_limit_mib:
        code, peak, train_bytes, mode = bench_streaming(args.stream_limit_mib)
        limit = args.stream_limit_mib * mib
        print(
            f"(d) streaming: one epoch on a {train_bytes / mib:,.0f} MiB train channel ({train_bytes / limit:.1f}x the "
            f"limit) under a {args.stream_limit_mib:,} MiB cgroup limit: exit {code}, peak RSS {peak / mib:,.0f} MiB, "
            f"ratio {peak / limit:.2f}x the limit (target < 1x); {mode}"
        )
    timings = bench_decoding(args.decode_rows, args.features)
    model_ms = timings["model"] * 1000
    print(
        f"(e) serving:  {args.decode_rows:,} rows x {args.features} features, 1 torch thread: model {model_ms:.1f} ms; "
        + ", ".join(
            f"{kind} decode {timings[kind] * 1000:.1f} ms ({timings[kind] / timings['model']:.2f}x)"
            for kind in ("csv", "csv without pandas", "json", "npy")
        )
        + " (target <= 2x the model)"
    )


if __name__ == "__main__":
    main()
