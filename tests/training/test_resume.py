"""Resume semantics: a killed run resumes into exactly the run it would have been; other settings never resume.

SageMaker restores a job's checkpoints into the local checkpoint folder when training resumes:
"Once the training has resumed, the checkpoints from this S3 bucket are restored to
checkpoint_local_path in each instance of the new training job." (Resume training from a
checkpoint, Amazon SageMaker AI Developer Guide,
https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints-resume.html). So a retried step
or a spot restart finds its own checkpoints, and ``make train-local`` finds the last run's in
``local_output/checkpoints``.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from trainer_harness import BASELINE_ARGS as ARGS
from trainer_harness import TRAIN_SCRIPT, job_env, run_in_process, run_trainer

pytestmark = pytest.mark.slow

EPOCH_LINE = re.compile(r"^epoch=(\d+)/(\d+) ", re.MULTILINE)


def epochs_logged(stdout: str) -> list[int]:
    """Epoch numbers of the metric lines, in log order."""
    return [int(number) for number, _ in EPOCH_LINE.findall(stdout)]


def weights(job: Path) -> dict[str, torch.Tensor]:
    """The saved model's state dict."""
    state: dict[str, torch.Tensor] = torch.load(job / "model" / "model.pt", weights_only=True)
    return state


def metrics(job: Path) -> dict[str, Any]:
    """The run's metrics.json."""
    loaded: dict[str, Any] = json.loads((job / "output" / "data" / "metrics.json").read_text())
    return loaded


@pytest.fixture(scope="module")
def uninterrupted(baseline_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    """The shared run of ``ARGS`` from start to finish."""
    job, result = baseline_run
    assert result.returncode == 0, result.stderr
    assert epochs_logged(result.stdout) == [1, 2, 3]
    return job


def test_killed_at_an_epoch_boundary_and_resumed_equals_the_uninterrupted_run(
    tmp_path: Path, dataset_dir: Path, uninterrupted: Path
) -> None:
    env = job_env(tmp_path, dataset_dir)
    checkpoints = tmp_path / "checkpoints"
    first = subprocess.Popen(
        [sys.executable, str(TRAIN_SCRIPT), *ARGS, "--pause-after-epoch", "120"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (checkpoints / "checkpoint-epoch-0001.pt").exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # during the pause after epoch 1: at the epoch boundary
    first.communicate()
    (checkpoints / "checkpoint-epoch-0009.pt").write_bytes(b"PK\x03\x04 truncated")  # corrupt, newest
    (checkpoints / ".checkpoint-epoch-0010.pt.tmp999").write_bytes(b"partial")  # an interrupted write

    second = run_trainer(ARGS, env)
    assert second.returncode == 0, second.stderr
    assert "skipping unreadable checkpoint" in second.stderr and "checkpoint-epoch-0009.pt" in second.stderr
    assert "resumed from epoch 1 " in second.stdout and epochs_logged(second.stdout) == [2, 3]
    resumed, reference = weights(tmp_path), weights(uninterrupted)
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(resumed[name], tensor), name  # weights, optimizer moments and RNG all carried over
    assert metrics(tmp_path)["history"] == metrics(uninterrupted)["history"]
    assert metrics(tmp_path)["final"] == metrics(uninterrupted)["final"]
    assert not list(checkpoints.glob(".checkpoint-*"))
    kept = sorted(int(path.stem.rsplit("-", 1)[1]) for path in checkpoints.glob("checkpoint-epoch-*.pt"))
    assert kept[-2:] == [2, 3] and len(kept) <= 3, kept  # last two plus the best; the corrupt one is gone


def _rerun(
    job: Path, dataset_dir: Path, args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[str, str]:
    assert run_in_process(args, job_env(job, dataset_dir), monkeypatch) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_reruns_resume_only_the_same_training(
    tmp_path: Path,
    dataset_dir: Path,
    uninterrupted: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The ``make train-local`` case: rerun in the same folder, with the same or other hyperparameters."""
    for checkpoint in (uninterrupted / "checkpoints").glob("checkpoint-epoch-*.pt"):
        (tmp_path / "checkpoints").mkdir(exist_ok=True)
        (tmp_path / "checkpoints" / checkpoint.name).write_bytes(checkpoint.read_bytes())

    out, _ = _rerun(tmp_path, dataset_dir, ARGS, monkeypatch, capsys)  # same settings: nothing left to train
    assert "resumed from epoch 3 " in out and "training had finished" in out and epochs_logged(out) == []
    assert all(torch.equal(weights(tmp_path)[k], v) for k, v in weights(uninterrupted).items())

    changed = [*ARGS, "--learning_rate", "0.01"]
    out, err = _rerun(tmp_path, dataset_dir, changed, monkeypatch, capsys)
    warnings = [line for line in err.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "hyperparameters.learning_rate 0.001 -> 0.01" in warnings[0], err
    assert "resumed" not in out and epochs_logged(out) == [1, 2, 3]
    assert metrics(tmp_path)["hyperparameters"]["learning_rate"] == 0.01 and metrics(tmp_path)["epochs_run"] == 3
    assert len(list((tmp_path / "checkpoints" / "mismatched").rglob("checkpoint-epoch-*.pt"))) >= 2

    out, _ = _rerun(tmp_path, dataset_dir, [*changed, "--fresh"], monkeypatch, capsys)
    assert "--fresh: moved the existing checkpoints" in out and epochs_logged(out) == [1, 2, 3]
    assert list((tmp_path / "checkpoints" / "set-aside").rglob("checkpoint-epoch-0003.pt"))


def test_new_data_under_the_same_checkpoints_trains_anew(
    tmp_path: Path,
    dataset_dir: Path,
    uninterrupted: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A fixed ``checkpoint_uri``, or ``make train-local RESUME=1`` with new ``local_data``: the same row counts
    and settings, other values. Resuming would "finish" the old run and register the old model."""
    import shutil

    import synthetic_data

    for checkpoint in (uninterrupted / "checkpoints").glob("checkpoint-epoch-*.pt"):
        (tmp_path / "checkpoints").mkdir(exist_ok=True)
        shutil.copy(checkpoint, tmp_path / "checkpoints" / checkpoint.name)
    data = tmp_path / "data"
    shutil.copytree(dataset_dir, data)
    synthetic_data.write_dataset(tmp_path / "next-export", rows=3000, features=5, seed=1)  # the same row counts
    shutil.copy(tmp_path / "next-export" / "train" / "train.parquet", data / "train" / "train.parquet")
    assert run_in_process(ARGS, job_env(tmp_path, data), monkeypatch) == 0
    captured = capsys.readouterr()
    warning = next(line for line in captured.err.splitlines() if line.startswith("WARNING: not resuming"))
    assert "data.train.digest" in warning and "hyperparameters" not in warning and "data.val" not in warning, warning
    assert "resumed" not in captured.out and epochs_logged(captured.out) == [1, 2, 3]
    assert not all(torch.equal(weights(tmp_path)[k], v) for k, v in weights(uninterrupted).items())
