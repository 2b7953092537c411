"""Fixtures for the trainer's tests: ``training_src`` on ``sys.path``, synthetic data, the code bundle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from trainer_harness import BASELINE_ARGS, TRAINING_SRC, job_env, run_trainer

if str(TRAINING_SRC) not in sys.path:
    sys.path.insert(0, str(TRAINING_SRC))  # the bundle's modules import each other as top-level modules

import synthetic_data


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset in the pipeline layout (train/val/test), shared by the session."""
    out_dir = tmp_path_factory.mktemp("data")
    synthetic_data.write_dataset(out_dir, rows=3000, features=5, seed=0)
    return out_dir


@pytest.fixture(scope="session")
def baseline_run(
    tmp_path_factory: pytest.TempPathFactory, dataset_dir: Path
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One uninterrupted single-process run of ``BASELINE_ARGS`` (its job directory and output), shared."""
    job = tmp_path_factory.mktemp("baseline")
    return job, run_trainer(BASELINE_ARGS, job_env(job, dataset_dir))
