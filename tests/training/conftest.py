"""Fixtures for the trainer's tests: ``training_src`` on ``sys.path``, synthetic data, the code bundle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from trainer_harness import TRAINING_SRC

if str(TRAINING_SRC) not in sys.path:
    sys.path.insert(0, str(TRAINING_SRC))  # the bundle's modules import each other as top-level modules

import synthetic_data


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset in the pipeline layout (train/val/test), shared by the session."""
    out_dir = tmp_path_factory.mktemp("data")
    synthetic_data.write_dataset(out_dir, rows=3000, features=5, seed=0)
    return out_dir
