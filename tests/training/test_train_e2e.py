"""End-to-end runs of the trainer: logs and artifacts, early stopping, best-model selection, and torchrun's
gradient sync (ranks identical, and equal to one process on the same global batch)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import contract
import numpy as np
import pandas as pd
import pytest
import torch
from trainer_harness import job_env, run_in_process, run_trainer

pytestmark = pytest.mark.slow

EPOCH_LINE = re.compile(r"^epoch=(\d+)/(\d+) ")


def epoch_numbers(stdout: str) -> list[int]:
    """Epoch numbers of the metric lines, in log order."""
    return [int(match.group(1)) for line in stdout.splitlines() if (match := EPOCH_LINE.match(line))]


def test_single_process_run_logs_metrics_and_writes_artifacts(
    baseline_run: tuple[Path, subprocess.CompletedProcess[str]], dataset_dir: Path
) -> None:
    tmp_path, result = baseline_run
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


def _in_process(
    args: list[str], job: Path, data: Path, monkeypatch: pytest.MonkeyPatch, channels: tuple[str, ...]
) -> dict[str, Any]:
    """Run the trainer in this process; returns its metrics.json."""
    assert run_in_process(args, job_env(job, data, channels), monkeypatch) == 0
    loaded: dict[str, Any] = json.loads((job / "output" / "data" / "metrics.json").read_text())
    return loaded


def test_early_stopping(
    tmp_path: Path, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A learning rate far below float32 resolution leaves the weights unchanged, so val AUROC never improves.
    args = ["--epochs", "10", "--patience", "2", "--learning_rate", "1e-30", "--dry-run"]
    metrics = _in_process(args, tmp_path, dataset_dir, monkeypatch, ("train", "val"))
    stdout = capsys.readouterr().out
    assert epoch_numbers(stdout) == [1, 2, 3]
    assert "early stopping after epoch 3" in stdout
    assert "test/" not in stdout  # no test channel declared, no test line
    assert metrics["best_epoch"] == 1 and metrics["stopped_early"] is True


def _overfitting_data(root: Path) -> pd.DataFrame:
    """40 train rows whose label is ``f0 > 0`` with 35% flipped; val is clean. A wide MLP first learns f0,
    then memorizes the flipped rows, so val AUROC rises, peaks and falls."""
    rng = np.random.default_rng(0)
    frames = {}
    for name, rows in (("train", 40), ("val", 1000)):
        x = rng.standard_normal((rows, 3))
        label = (x[:, 0] > 0).astype(np.int64)
        if name == "train":
            label = np.where(rng.random(rows) < 0.35, 1 - label, label)
        frames[name] = pd.DataFrame({"f0": x[:, 0], "f1": x[:, 1], "f2": x[:, 2], "label": label})
        (root / name).mkdir(parents=True)
        frames[name].to_parquet(root / name / "part-0.parquet")
    return frames["val"]


def test_the_saved_model_is_the_best_epochs_not_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    val = _overfitting_data(tmp_path / "data")
    args = ["--epochs", "30", "--patience", "30", "--hidden_sizes", "[128,128]", "--dropout", "0.0",
            "--learning_rate", "0.01", "--batch_size", "8", "--seed", "0"]  # fmt: skip
    metrics = _in_process(args, tmp_path / "job", tmp_path / "data", monkeypatch, ("train", "val"))
    aurocs = [row["val/auroc"] for row in metrics["history"]]
    peak = int(np.argmax(aurocs))
    assert 0 < peak < len(aurocs) - 1 and aurocs[-1] < aurocs[peak] - 0.1, f"no peak-then-fall: {aurocs}"
    assert metrics["best_epoch"] == peak + 1
    selected = [line for line in capsys.readouterr().out.splitlines() if "selected_val_auroc=" in line]
    assert len(selected) == 1 and contract.parse_metric_line(selected[0])["selected_val_auroc"] == pytest.approx(
        aurocs[peak], abs=1e-6
    )

    from inference import load_model
    from torchmetrics.functional.classification import binary_auroc

    probabilities = torch.from_numpy(load_model(tmp_path / "job" / "model").predict_proba(val))
    saved = float(binary_auroc(probabilities, torch.from_numpy(val["label"].to_numpy().copy())))
    assert saved == pytest.approx(aurocs[peak], abs=1e-5), (saved, aurocs)


def test_torchrun_ranks_stay_in_sync_and_match_one_process(
    tmp_path: Path, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Full-batch steps without dropout: 2 ranks x 1050 rows take the same steps as 1 process x 2100 rows.

    On SageMaker the ``torch_distributed`` launcher is torchrun: "This option runs torchrun and sets up
    environment variables needed for running PyTorch distributed training on SageMaker AI." (Use the
    PyTorch framework estimators in the SageMaker Python SDK,
    https://docs.aws.amazon.com/sagemaker/latest/dg/data-parallel-framework-estimator.html). Without DDP
    the ranks would drift apart, which the trainer itself turns into a failed job.
    """
    common = ["--epochs", "6", "--dropout", "0.0", "--learning_rate", "0.01", "--log_interval_steps", "1000"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = run_trainer([*common, "--batch_size", "1050"], job_env(tmp_path / "two", dataset_dir), launcher=launcher)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "world size 2 (gloo)" in result.stdout and "(this rank: 1050/225/225)" in result.stdout
    assert "weights identical on all 2 ranks" in result.stdout
    assert epoch_numbers(result.stdout) == list(range(1, 7)), "rank 0 alone prints each epoch's metrics"
    assert result.stdout.count("test/auroc=") == 1 and result.stdout.count("saved model to") == 1
    model_files = sorted(path.name for path in (tmp_path / "two" / "model").iterdir())
    assert model_files == ["code", "model.pt", "model_meta.json"]

    one = _in_process(
        [*common, "--batch_size", "2100"], tmp_path / "one", dataset_dir, monkeypatch, ("train", "val", "test")
    )
    two: dict[str, Any] = json.loads((tmp_path / "two" / "output" / "data" / "metrics.json").read_text())
    two_weights = torch.load(tmp_path / "two" / "model" / "model.pt", weights_only=True)
    one_weights = torch.load(tmp_path / "one" / "model" / "model.pt", weights_only=True)
    for name, tensor in one_weights.items():
        torch.testing.assert_close(two_weights[name], tensor, atol=1e-5, rtol=1e-4)
    for mine, theirs in zip(two["history"], one["history"], strict=True):
        assert mine == pytest.approx(theirs, abs=1e-5)


def test_standardization_is_fit_on_the_train_channel(
    baseline_run: tuple[Path, subprocess.CompletedProcess[str]], dataset_dir: Path
) -> None:
    """The saved mean and std are train's column statistics (population std), not val's or all channels'."""
    job, result = baseline_run
    assert result.returncode == 0, result.stderr
    meta = json.loads((job / "model" / "model_meta.json").read_text())
    features = meta["feature_columns"]
    train = pd.read_parquet(dataset_dir / "train" / "train.parquet")[features]
    val = pd.read_parquet(dataset_dir / "val" / "val.parquet")[features]
    np.testing.assert_allclose(meta["standardization"]["mean"], train.mean().to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(meta["standardization"]["std"], train.std(ddof=0).to_numpy(), rtol=1e-5)
    assert not np.allclose(meta["standardization"]["mean"], val.mean().to_numpy(), rtol=1e-3)


@pytest.mark.parametrize("loading", ["memory", "stream"])
def test_the_training_order_changes_between_epochs_within_a_run(
    tmp_path: Path, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, loading: str
) -> None:
    """Records the rows each training step sees: every epoch the same rows, in another order (a loader whose
    epoch is never set repeats epoch 0's order)."""
    import model

    seen: list[torch.Tensor] = []
    forward = model.MLP.forward

    def recording(self: model.MLP, features: torch.Tensor) -> torch.Tensor:
        if self.training:
            seen.append(features[:, 0].detach().clone())
        return forward(self, features)

    monkeypatch.setattr(model.MLP, "forward", recording)
    args = ["--epochs", "3", "--patience", "5", "--batch_size", "300", "--data_loading", loading]
    _in_process(args, tmp_path, dataset_dir, monkeypatch, ("train", "val"))
    rows = pd.read_parquet(dataset_dir / "train" / "train.parquet").shape[0]
    order = torch.cat(seen)
    assert len(order) == 3 * rows
    epochs = [order[index * rows : (index + 1) * rows] for index in range(3)]
    for epoch in epochs[1:]:
        assert torch.equal(torch.sort(epoch).values, torch.sort(epochs[0]).values)  # the same rows
        assert not torch.equal(epoch, epochs[0])  # in a new order
