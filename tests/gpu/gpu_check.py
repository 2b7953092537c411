"""GPU smoke check of the trainer: the CUDA paths no CPU test can run (``make gpu-check``).

Checks, each printed as PASS or FAIL with its evidence:

1. the device helpers with real CUDA tensors (loss reduction, metrics, a checkpoint written from
   CUDA tensors loaded back on the CPU, the CUDA RNG state restored);
2. one process training on ``cuda:0``;
3. torchrun with 2 processes sharing one GPU (gloo: NCCL refuses two ranks on one device);
4. a run killed at an epoch boundary, then resumed (the checkpoint and RNG restore on a GPU);
5. the loaders on the GPU: held rows on the device (order drawn there), host rows staged through pinned
   buffers with non-blocking copies, streamed rows pinned by the reader thread; all three give the rows
   the host gives, and the optimizer is fused AdamW and the step bf16 where the GPU supports it;
6. the trainer's loop against the tuned reference loop (``benchmarks/tuned_loop.py``) at the same batch
   size: the ratio is printed, FAIL below 0.8x;
7. with 2 or more GPUs: torchrun with one process per GPU (nccl), as the toolkit starts it on one instance.

It needs only the training container's packages (torch with CUDA, numpy, pyarrow, torchmetrics,
matplotlib): no venv, no network, no SageMaker toolkit. Without CUDA it prints SKIPPED and exits 0.

Usage: ``python3 tests/gpu/gpu_check.py [--allow-cpu]`` (``--allow-cpu`` runs it on CPU, to try the script).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "training_src"), str(ROOT / "tests" / "training"), str(ROOT / "benchmarks")]

import torch  # noqa: E402  # after the path set-up, like every import below
from trainer_harness import TRAIN_SCRIPT, job_env  # noqa: E402

ARGS = ["--epochs", "3", "--batch_size", "256", "--log_interval_steps", "1000", "--seed", "7"]
TIMEOUT_S = 150


def _run(args: list[str], env: dict[str, str], launcher: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*(launcher or [sys.executable]), str(TRAIN_SCRIPT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    return " | ".join((result.stdout + result.stderr).strip().splitlines()[-6:])


def check_helpers(device: torch.device, work: Path) -> str:
    """Reductions, metrics, checkpoints and RNG with tensors on ``device``."""
    import distributed
    from checkpoints import CheckpointManager, capture_rng_state, restore_rng_state
    from metrics import BinaryEvaluator

    ctx = distributed.DistContext(0, 0, 1, 1, device)
    mean = distributed.all_reduce_mean(torch.tensor(6.0, device=device), 4, ctx)
    _expect(mean == 1.5, f"all_reduce_mean gave {mean}")
    evaluator = BinaryEvaluator(0.5, device)
    logits = torch.tensor([-2.0, -1.0, 1.0, 2.0], device=device)
    labels = torch.tensor([0.0, 0.0, 1.0, 1.0], device=device)
    evaluator.update(logits, labels, torch.tensor(0.3, device=device))
    scores = evaluator.compute()
    _expect(scores["auroc"] == 1.0 and scores["f1_score"] == 1.0, f"metrics {scores}")
    manager = CheckpointManager(work / "checkpoints")
    rng = capture_rng_state(device)
    expected = torch.rand(3, device=device).cpu()
    manager.save({
        "epoch": 1, "model": {"w": torch.ones(2, device=device)}, "optimizer": {}, "rng": [rng], "best_auroc": 0.5,
        "best_epoch": 1, "bad_epochs": 0, "best_model": {}, "standardizer": {},
    })  # fmt: skip
    state = manager.load(manager.checkpoints()[0][1])
    _expect(state is not None and state["model"]["w"].device.type == "cpu", "checkpoint did not load on the CPU")
    assert state is not None
    restore_rng_state(state["rng"][0], device)
    again = torch.rand(3, device=device).cpu()
    _expect(torch.equal(again, expected), "the device RNG did not continue from the checkpoint")
    return f"reductions, metrics, checkpoint and RNG on {device}"


def check_single(data: Path, work: Path, device: torch.device) -> str:
    """One process trains on the device and writes the model."""
    result = _run(ARGS, job_env(work / "single", data))
    _expect(result.returncode == 0, _tail(result))
    _expect(f"device {device}" in result.stdout, f"not on {device}: {_tail(result)}")
    final = json.loads((work / "single" / "output" / "data" / "metrics.json").read_text())["final"]
    _expect(final["test"]["auroc"] > 0.7, f"test AUROC {final['test']['auroc']}")
    return f"3 epochs on {device}, test AUROC {final['test']['auroc']:.3f}"


def check_torchrun(data: Path, work: Path, device: torch.device) -> str:
    """Two torchrun processes on one GPU: both on cuda:0, gloo, weights in sync."""
    env = job_env(work / "torchrun", data)
    env["CUDA_VISIBLE_DEVICES"] = env.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = _run(ARGS, env, launcher)
    _expect(result.returncode == 0, _tail(result))
    _expect("world size 2 (gloo)" in result.stdout, f"backend: {_tail(result)}")
    _expect(f"device {device}" in result.stdout, f"device: {_tail(result)}")
    _expect("weights identical on all 2 ranks" in result.stdout, f"sync: {_tail(result)}")
    return "2 ranks on one GPU with gloo, weights identical after training"


def check_kill_and_resume(data: Path, work: Path, device: torch.device) -> str:
    """SIGKILL after the first checkpoint, rerun: resumes from it and matches the uninterrupted run."""
    env = job_env(work / "resumed", data)
    checkpoint = work / "resumed" / "checkpoints" / "checkpoint-epoch-0001.pt"
    command = [sys.executable, str(TRAIN_SCRIPT), *ARGS, "--pause-after-epoch", "120"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        _expect(checkpoint.exists(), "no checkpoint of epoch 1 appeared")
    finally:
        first.kill()  # SIGKILL, during the pause after epoch 1: at the epoch boundary
        first.communicate()
    result = _run(ARGS, env)
    _expect(result.returncode == 0, _tail(result))
    _expect("resumed from epoch 1 " in result.stdout, f"did not resume: {_tail(result)}")
    resumed = torch.load(work / "resumed" / "model" / "model.pt", weights_only=True)
    reference = torch.load(work / "single" / "model" / "model.pt", weights_only=True)
    difference = max(float((resumed[name] - tensor).abs().max()) for name, tensor in reference.items())
    _expect(difference <= 1e-4, f"resumed weights differ from the uninterrupted run by {difference:.2e}")
    return f"resumed from epoch 1 on {device}; max weight difference to the uninterrupted run {difference:.1e}"


def check_loaders(data: Path, device: torch.device) -> str:
    """Held-on-device, staged (pinned, non-blocking) and streamed batches equal the host's; fused AdamW; bf16."""
    from batches import BatchLoader, StreamLoader
    from data import load_planned, plan_data
    from engine import autocast_dtype, make_optimizer
    from model import MLP, Standardizer
    from streaming import StreamedChannel

    for channel in ("train", "val"):
        os.environ[f"SM_CHANNEL_{channel.upper()}"] = str(data / channel)
    os.environ["SM_CHANNEL_TEST"] = str(data / "absent")
    plan = plan_data("label", [])
    held = load_planned(plan)["train"]
    standardizer = Standardizer.fit(held.features, plan.offsets)
    standardizer.transform_inplace(held.features, plan.offsets)
    x, y = torch.from_numpy(held.features), torch.from_numpy(held.labels)
    host = BatchLoader(x, y, 500, device=torch.device("cpu"))
    expected = [batch[0] for batch in host]
    for batch, rows in zip(BatchLoader(x, y, 500, device=device, resident=False), expected, strict=True):
        _expect(batch[0].device == device, "staged batches are not on the device")
        _expect(torch.equal(batch[0].cpu(), rows), "staged rows differ from the host's")  # compared before reuse
    resident = BatchLoader(x, y, 500, device=device, shuffle=True, seed=1, resident=True)
    _expect(resident.features.device == device and resident.order().device == device, "held rows not on the device")
    rows = torch.cat([batch[0] for batch in resident]).cpu()
    _expect(torch.equal(rows.sum(0), x.sum(0)) or torch.allclose(rows.sum(0), x.sum(0), atol=1e-2), "rows lost")
    source = StreamedChannel(plan.channels["train"], plan, plan.shares(0, 1)["train"], standardizer)
    for batch, rows in zip(StreamLoader(source, 500, device=device), expected, strict=True):
        _expect(torch.equal(batch[0].cpu(), rows), "streamed rows differ from the host's")
    optimizer = make_optimizer(MLP(x.shape[1], [8], 0.0).to(device), 1e-3, 0.0, device)
    _expect(optimizer.defaults.get("fused") is (True if device.type == "cuda" else None), "AdamW fused only on CUDA")
    precision = autocast_dtype(device)
    return f"held, staged and streamed batches match the host's; fused AdamW; autocast {precision or 'off (float32)'}"


def check_tuned_loop(data: Path, device: torch.device) -> str:
    """The trainer's step loop vs the tuned loop, same batch size, data on the GPU; FAIL below 0.8x."""
    from data import load_planned, plan_data
    from model import Standardizer
    from tuned_loop import compare

    plan = plan_data("label", [])
    train = load_planned(plan)["train"]
    Standardizer.fit(train.features, plan.offsets).transform_inplace(train.features, plan.offsets)
    ours, tuned = compare(torch.from_numpy(train.features), torch.from_numpy(train.labels), 256, device, epochs=4)
    ratio = ours / tuned
    detail = f"trainer {ours:,.0f} samples/s, tuned loop {tuned:,.0f} samples/s, ratio {ratio:.2f}x (target >= 0.8x)"
    _expect(ratio >= 0.8, detail)
    return detail


def check_one_process_per_gpu(data: Path, work: Path) -> str:
    """torchrun --nproc_per_node <GPUs>: one rank per GPU with nccl, as the toolkit starts it on one instance."""
    gpus = torch.cuda.device_count()
    if gpus < 2:
        return "skipped: 1 GPU (needs 2 or more)"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(gpus)]
    result = _run(ARGS, job_env(work / "per-gpu", data), launcher)
    _expect(result.returncode == 0, _tail(result))
    _expect(f"world size {gpus} (nccl)" in result.stdout, f"backend: {_tail(result)}")
    _expect(f"weights identical on all {gpus} ranks" in result.stdout, f"sync: {_tail(result)}")
    return f"{gpus} ranks, one per GPU, nccl, weights identical after training"


def run_checks(work: Path, device: torch.device) -> dict[str, str | None]:
    """Run every check in ``work``; returns each check's failure (``None`` when it passed)."""
    import synthetic_data

    data = work / "data"
    synthetic_data.write_dataset(data, rows=6000, features=8, seed=0)
    checks: list[tuple[str, Callable[[], str]]] = [
        ("device helpers", lambda: check_helpers(device, work)),
        ("single process", lambda: check_single(data, work, device)),
        ("torchrun, 2 processes on one GPU", lambda: check_torchrun(data, work, device)),
        ("kill and resume", lambda: check_kill_and_resume(data, work, device)),
        ("loaders on the device", lambda: check_loaders(data, device)),
        ("trainer vs tuned loop", lambda: check_tuned_loop(data, device)),
        ("one process per GPU", lambda: check_one_process_per_gpu(data, work)),
    ]
    failures: dict[str, str | None] = {}
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail, failures[name] = check(), None
            print(f"PASS {name} ({time.perf_counter() - started:.1f} s): {detail}", flush=True)
        except (AssertionError, subprocess.TimeoutExpired, OSError) as error:
            failures[name] = str(error)
            print(f"FAIL {name} ({time.perf_counter() - started:.1f} s): {error}", flush=True)
    return failures


def main() -> int:
    """Print the environment, run the checks, and exit 1 when any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--allow-cpu", action="store_true", help="run on CPU when CUDA is absent (to try the script)")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.allow_cpu:
        print(f"SKIPPED: CUDA is not available (torch {torch.__version__}); nothing to check", flush=True)
        return 0
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    nccl = ".".join(map(str, torch.cuda.nccl.version())) if device.type == "cuda" else "n/a"
    print(f"gpu-check: torch {torch.__version__}, {name}, nccl {nccl}, python {sys.version.split()[0]}", flush=True)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        failures = run_checks(Path(work), device)
    failed = [name for name, failure in failures.items() if failure]
    print(f"GPU CHECK: {'FAIL' if failed else 'PASS'} ({len(failures) - len(failed)}/{len(failures)} passed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
