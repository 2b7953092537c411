"""Helpers for running the trainer in tests: job environments and subprocess runs of ``train.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAINING_SRC = PROJECT_ROOT / "training_src"
TRAIN_SCRIPT = TRAINING_SRC / "train.py"


def job_env(job_dir: Path, data_dir: Path, channels: tuple[str, ...] = ("train", "val", "test")) -> dict[str, str]:
    """The environment of a local job: channel, model, output and checkpoint directories under ``job_dir``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SM_", "SAGEMAKER_"))}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "CHECKPOINT_DIR"):
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
