"""The example's own trainer runs as SageMaker runs it: parquet channels in, its metric lines out, a servable model."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.library.conftest import example_path, load_example_app

pytestmark = pytest.mark.slow


def write_channel(folder: Path, rows: int, seed: int) -> None:
    """A sharded export: two parquet parts under the channel folder, as Athena or Spark write them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"tenure": rng.normal(size=rows), "spend": rng.normal(size=rows), "plan": "basic"})
    frame["churned"] = (frame["tenure"] - frame["spend"] > 0).astype("int64")
    folder.mkdir(parents=True)
    half = rows // 2
    frame.iloc[:half].to_parquet(folder / "part-00000.parquet")
    frame.iloc[half:].to_parquet(folder / "part-00001.parquet")


def test_the_example_trainer_reads_parquet_and_prints_what_its_regexes_read(tmp_path: Path) -> None:
    spec = load_example_app().TRAINER
    for channel, seed in (("training", 1), ("validation", 2)):
        write_channel(tmp_path / "data" / channel, 400, seed)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    env = {
        **os.environ,
        "SM_CHANNEL_TRAINING": str(tmp_path / "data" / "training"),
        "SM_CHANNEL_VALIDATION": str(tmp_path / "data" / "validation"),
        "SM_MODEL_DIR": str(model_dir),
    }
    # SageMaker passes each hyperparameter as --name value (the values the definition holds, JSON-decoded).
    arguments = [f"--{name}={hp.default}" for name, hp in spec.hyperparameters.items()]
    result = subprocess.run(
        [sys.executable, str(example_path("trainer", "fit.py")), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    read = {
        name: [float(m) for m in re.findall(regex, result.stdout)] for name, regex in spec.metric_definitions.items()
    }
    assert len(read["training:log_loss"]) == spec.hyperparameters["epochs"].default
    (accuracy,) = read["validation:accuracy"]
    assert accuracy >= spec.quality_threshold  # a separable sample passes the example's gate
    assert (model_dir / "model.pt").is_file() and (model_dir / "code" / "inference.py").is_file()

    # The copy the model archive serves, under a name of its own (the bundled trainer has an `inference` module too).
    spec = importlib.util.spec_from_file_location("example_inference", model_dir / "code" / "inference.py")
    assert spec is not None and spec.loader is not None
    inference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inference)
    served = inference.model_fn(str(model_dir))
    rows = inference.input_fn(
        json.dumps([{"tenure": 2.0, "spend": -2.0}, {"tenure": -2.0, "spend": 2.0}]), "application/json"
    )
    churn, stay = inference.predict_fn(rows, served)
    assert churn > 0.5 > stay
