"""The real SageMaker training toolkit (sagemaker-training + sagemaker-pytorch-training) runs the bundle.

The toolkit itself extracts the tar.gz (``sagemaker_submit_directory`` is a local path: its
``download_and_extract`` accepts s3:// URIs, directories and local tarballs, not file:// URLs),
installs ``requirements.txt`` with pip (a no-op here: the pins equal the .venv's versions) and runs
``train.py`` with the hyperparameters as ``--name value`` arguments.

The data is a sharded export as Spark or pandas write it (``tests/training/exports.py``): parts in a
Hive-style folder, a ``_SUCCESS`` marker, a 0-row part, pandas' saved index, bool and nullable-int columns.

The PyTorch toolkit first waits (up to 15 minutes) until every host in resourceconfig.json resolves.
When ``algo-1`` does not resolve here, the test sets ``SM_STUDIO_LOCAL_MODE=true``, the toolkit's own
switch that skips only that DNS wait, instead of editing /etc/hosts.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import contract
import pytest
import torch
from exports import write_export_dataset
from trainer_harness import job_env

from tests.conftest import training_arguments

pytestmark = pytest.mark.slow

HOST = "algo-1"
FEATURES = ["f0", "f1", "f2", "flag", "count"]
"""The export's bool and nullable-int columns are features; its string column and pandas index are not."""


def _resolves(host: str) -> bool:
    try:
        socket.gethostbyname(host)
    except OSError:
        return False
    return True


def _write_job_config(base: Path, bundle: Path, rendered: dict[str, str], values: dict[str, object]) -> None:
    """The job config as SageMaker writes it, from the hyperparameters of the rendered definition."""
    config = base / "input" / "config"
    config.mkdir(parents=True)
    hyperparameters = dict(rendered)  # every value is already JSON-encoded, exactly as SageMaker passes it
    for name, value in values.items():  # shorter training for the test
        hyperparameters[name] = json.dumps(contract.serialize_value(contract.HYPERPARAMETERS_BY_NAME[name], value))
    hyperparameters["sagemaker_submit_directory"] = json.dumps(str(bundle))
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": HOST, "hosts": [HOST], "network_interface_name": "lo"})
    )
    channel_config = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
    (config / "inputdataconfig.json").write_text(json.dumps(dict.fromkeys(contract.CHANNELS, channel_config)))


def _layers(state: dict[str, torch.Tensor]) -> list[tuple[int, int]]:
    """``(out, in)`` of every Linear layer in the saved state dict, in order."""
    names = sorted((name for name in state if name.endswith(".weight")), key=lambda name: int(name.split(".")[1]))
    return [tuple(state[name].shape) for name in names]  # type: ignore[misc]


def test_toolkit_runs_the_bundle_on_a_sharded_export(
    tmp_path: Path, source_bundle_path: Path, templates: dict[str, dict[str, Any]]
) -> None:
    """The dev stage's bundle from cdk.out, with its rendered hyperparameters and regexes, on real-export data."""
    assert source_bundle_path.is_file() and source_bundle_path.name.endswith(".tar.gz")
    arguments = training_arguments(templates["dev"])
    rendered = arguments["HyperParameters"]
    assert json.loads(rendered["sagemaker_program"]) == contract.ENTRY_POINT
    base = tmp_path / "ml"
    _write_job_config(
        base, source_bundle_path, rendered, {"epochs": 2, "log_interval_steps": 3, "hidden_sizes": [16, 8]}
    )
    frames = write_export_dataset(base / "input" / "data", rows=3000, parts=4)
    env = job_env(base, base / "input" / "data")
    for key in [key for key in env if key.startswith("SM_")]:
        del env[key]  # the toolkit derives every SM_* variable from the job config
    env["CHECKPOINT_DIR"] = str(tmp_path / "checkpoints")
    env["SAGEMAKER_TRAINING_MODULE"] = "sagemaker_pytorch_container.training:main"
    if not _resolves(HOST):
        env["SM_STUDIO_LOCAL_MODE"] = "true"
    result = subprocess.run(
        [sys.executable, "-c", "from sagemaker_training.cli.train import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    logs = result.stdout + result.stderr
    assert result.returncode == 0, logs[-4000:]
    assert (base / "output" / "success").exists()
    assert not (base / "output" / "failure").exists()
    assert (base / "code" / "train.py").is_file(), "the toolkit extracts the bundle into <base>/code"
    assert (base / "model" / "model.pt").is_file()
    assert (base / "model" / "model_meta.json").is_file()
    assert (base / "output" / "data" / "metrics.json").is_file()
    metric_definitions = arguments["AlgorithmSpecification"]["MetricDefinitions"]
    assert len(metric_definitions) == len(contract.METRICS)
    for definition in metric_definitions:
        assert re.search(definition["Regex"], logs), f"{definition['Name']} not in the logs"
    rows = ", ".join(f"{name} {len(frame)} rows" for name, frame in frames.items())
    assert f"data: {rows}; 5 features {FEATURES}; 3 empty part(s) skipped" in logs, logs[-4000:]
    assert "__index_level_0__" not in logs

    meta = json.loads((base / "model" / "model_meta.json").read_text())
    assert meta["feature_columns"] == FEATURES and meta["architecture"]["hidden_sizes"] == [16, 8]
    state = torch.load(base / "model" / "model.pt", weights_only=True)
    assert _layers(state) == [(16, len(FEATURES)), (8, 16), (1, 8)]  # the hidden_sizes the job was given
    from inference import load_model

    frame = frames["test"]
    probabilities = load_model(base / "model").predict_proba(frame)
    assert probabilities.shape == (len(frame),) and ((probabilities >= 0) & (probabilities <= 1)).all()
