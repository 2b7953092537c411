"""Fixtures for the trainer's tests: ``training_src`` on ``sys.path``, synthetic data, job directories."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRAINING_SRC = PROJECT_ROOT / "training_src"
TRAIN_SCRIPT = TRAINING_SRC / "train.py"
if str(TRAINING_SRC) not in sys.path:
    sys.path.insert(0, str(TRAINING_SRC))  # the bundle's modules import each other as top-level modules

import synthetic_data  # noqa: E402


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset in the pipeline layout (train/val/test), shared by the session."""
    out_dir = tmp_path_factory.mktemp("data")
    synthetic_data.write_dataset(out_dir, rows=3000, features=5, seed=0)
    return out_dir


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


JobEnv = Callable[..., dict[str, str]]
RunTrainer = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def make_job_env() -> JobEnv:
    """``job_env`` as a fixture."""
    return job_env


@pytest.fixture(scope="session")
def trainer() -> RunTrainer:
    """``run_trainer`` as a fixture."""
    return run_trainer


@pytest.fixture(scope="session")
def source_bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sourcedir tar.gz of ``training_src`` as the CDK app packages it (any Path to a .tar.gz will do)."""
    from constructs_lib.source_bundle import write_source_bundle

    return write_source_bundle(TRAINING_SRC, "train.py", tmp_path_factory.mktemp("bundle"))
