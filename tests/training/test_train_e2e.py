"""End-to-end runs of ``train.py`` as a subprocess: logs, artifacts, early stopping, torchrun, resume."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import contract
import numpy as np
import pandas as pd
import pytest
from trainer_harness import TRAIN_SCRIPT, job_env, run_trainer

pytestmark = pytest.mark.slow

EPOCH_LINE = re.compile(r"^epoch=(\d+)/(\d+) ")


def epoch_numbers(stdout: str) -> list[int]:
    """Epoch numbers of the metric lines, in log order."""
    return [int(match.group(1)) for line in stdout.splitlines() if (match := EPOCH_LINE.match(line))]


def test_single_process_run_logs_metrics_and_writes_artifacts(tmp_path: Path, dataset_dir: Path) -> None:
    result = run_trainer(
        ["--epochs", "3", "--log_interval_steps", "2", "--batch_size", "128"], job_env(tmp_path, dataset_dir)
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert epoch_numbers(result.stdout) == [1, 2, 3]
    for line in lines:
        if EPOCH_LINE.match(line):
            assert set(contract.EPOCH_METRIC_KEYS) <= set(contract.parse_metric_line(line))
    progress = [line for line in lines if line.startswith("progress ")]
    assert progress, "expected progress lines with log_interval_steps=2"
    for line in progress:
        assert "steps/s" in line and "eta" in line
        assert not any(re.search(spec.regex, line) for spec in contract.METRICS), line
    test_lines = [line for line in lines if "test/auroc=" in line]
    assert len(test_lines) == 1 and "test/f1_score=" in test_lines[0]
    for spec in contract.METRICS:
        assert re.search(spec.regex, result.stdout), spec.key

    model_dir, output_dir = tmp_path / "model", tmp_path / "output" / "data"
    meta = json.loads((model_dir / "model_meta.json").read_text())
    assert meta["feature_columns"] == [f"f{i}" for i in range(5)]  # 'category' (non-numeric) is ignored
    assert meta["label_column"] == "label"
    assert len(meta["standardization"]["mean"]) == 5
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1, 2, 3]
    assert metrics["final"]["test"]["auroc"] > 0.7
    for name in ("loss_curves.png", "roc_curve.png"):
        assert (output_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from inference import load_model, model_fn, predict_fn

    test_frame = pd.read_parquet(dataset_dir / "test" / "test.parquet")
    predictor = load_model(model_dir)
    probabilities = predictor.predict_proba(test_frame)
    assert probabilities.shape == (len(test_frame),)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    array = test_frame[meta["feature_columns"]].to_numpy()
    np.testing.assert_allclose(predict_fn(array, model_fn(str(model_dir))), probabilities, rtol=1e-6)
    accuracy = (predictor.predict(test_frame) == test_frame["label"].to_numpy()).mean()
    assert accuracy > 0.6


def test_early_stopping_keeps_the_best_model(tmp_path: Path, dataset_dir: Path) -> None:
    # A learning rate far below float32 resolution leaves the weights unchanged, so val AUROC never improves.
    args = ["--epochs", "10", "--patience", "2", "--learning_rate", "1e-30", "--dry-run"]
    result = run_trainer(args, job_env(tmp_path, dataset_dir, ("train", "val")))
    assert result.returncode == 0, result.stderr
    assert epoch_numbers(result.stdout) == [1, 2, 3]
    assert "early stopping after epoch 3" in result.stdout
    assert "test/" not in result.stdout  # no test channel, no test line
    metrics = json.loads((tmp_path / "output" / "data" / "metrics.json").read_text())
    assert metrics["best_epoch"] == 1 and metrics["stopped_early"] is True


def test_torchrun_two_processes(tmp_path: Path, dataset_dir: Path) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = run_trainer(
        ["--epochs", "2", "--log_interval_steps", "1000"], job_env(tmp_path, dataset_dir), launcher=launcher
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "world size 2" in result.stdout
    assert epoch_numbers(result.stdout) == [1, 2], "rank 0 alone prints each epoch's metrics"
    assert result.stdout.count("test/auroc=") == 1
    assert result.stdout.count("saved model to") == 1
    assert sorted(path.name for path in (tmp_path / "model").iterdir()) == ["code", "model.pt", "model_meta.json"]


def test_resume_after_kill_skips_corrupt_checkpoint(tmp_path: Path, dataset_dir: Path) -> None:
    env = job_env(tmp_path, dataset_dir)
    checkpoints = tmp_path / "checkpoints"
    args = ["--epochs", "4", "--dry-run"]
    first = subprocess.Popen(
        [sys.executable, str(TRAIN_SCRIPT), *args, "--pause-after-epoch", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(checkpoints.glob("checkpoint-epoch-*.pt")):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    done = max(int(path.stem.rsplit("-", 1)[1]) for path in checkpoints.glob("checkpoint-epoch-*.pt"))
    assert 1 <= done < 4
    (checkpoints / "checkpoint-epoch-0009.pt").write_bytes(b"PK\x03\x04 truncated")  # corrupt, newest
    (checkpoints / ".checkpoint-epoch-0010.pt.tmp999").write_bytes(b"partial")  # an interrupted write

    second = subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert second.returncode == 0, second.stderr
    assert "skipping unreadable checkpoint" in second.stderr and "checkpoint-epoch-0009.pt" in second.stderr
    assert f"resumed from epoch {done} " in second.stdout
    assert epoch_numbers(second.stdout) == list(range(done + 1, 5))
    history = json.loads((tmp_path / "output" / "data" / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert not list(checkpoints.glob(".checkpoint-*"))
    kept = sorted(int(path.stem.rsplit("-", 1)[1]) for path in checkpoints.glob("checkpoint-epoch-*.pt"))
    assert kept[-2:] == [3, 4] and len(kept) <= 3, kept  # last two plus the best; the corrupt one is gone
