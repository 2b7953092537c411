"""Helpers for running the trainer in tests: job environments and subprocess runs of ``train.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the GPU check imports this module with a plain python3 that may lack pytest
    import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAINING_SRC = PROJECT_ROOT / "training_src"
TRAIN_SCRIPT = TRAINING_SRC / "train.py"
BASELINE_ARGS = ["--epochs", "3", "--batch_size", "128", "--log_interval_steps", "5"]
"""The shared baseline run's arguments (``conftest.baseline_run``); the resume tests repeat them."""
DISTRIBUTED_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "CHECKPOINT_DIR")


def job_env(job_dir: Path, data_dir: Path, channels: tuple[str, ...] = ("train", "val", "test")) -> dict[str, str]:
    """The environment of a local job: channel, model, output and checkpoint directories under ``job_dir``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SM_", "SAGEMAKER_"))}
    for key in DISTRIBUTED_VARIABLES:
        env.pop(key, None)
    env.update(
        SM_MODEL_DIR=str(job_dir / "model"),
        SM_OUTPUT_DATA_DIR=str(job_dir / "output" / "data"),
        CHECKPOINT_DIR=str(job_dir / "checkpoints"),
        SAGEMAKER_BASE_DIR=str(job_dir),
        PYTHONUNBUFFERED="1",
    )
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = str(data_dir / channel)
    return env


def run_trainer(
    args: list[str], env: dict[str, str], *, launcher: list[str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``train.py`` (optionally under a launcher such as torchrun) and capture its output."""
    command = [*(launcher or [sys.executable]), str(TRAIN_SCRIPT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def run_in_process(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run ``train.main`` in this process (no interpreter and torch start-up) with ``env``'s job variables."""
    import train

    for key in os.environ:
        if key.startswith(("SM_", "SAGEMAKER_")) or key in DISTRIBUTED_VARIABLES:
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith(("SM_", "SAGEMAKER_")) or key == "CHECKPOINT_DIR":
            monkeypatch.setenv(key, value)
    return train.main(args)
