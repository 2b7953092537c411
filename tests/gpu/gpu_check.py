"""GPU smoke check of the trainer: the CUDA paths no CPU test can run (``make gpu-check``).

Checks, each printed as PASS or FAIL with its evidence:

1. the device helpers with real CUDA tensors (loss reduction, metrics, a checkpoint written from
   CUDA tensors loaded back on the CPU, the CUDA RNG state restored);
2. one process training on ``cuda:0``;
3. torchrun with 2 processes sharing one GPU (gloo: NCCL refuses two ranks on one device);
4. a run killed at an epoch boundary, then resumed (the checkpoint and RNG restore on a GPU).

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
sys.path[:0] = [str(ROOT / "training_src"), str(ROOT / "tests" / "training")]

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
