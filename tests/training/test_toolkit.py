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
import tarfile
from pathlib import Path
from typing import Any

import contract
import pyarrow.parquet as pq
import pytest
import torch
from exports import athena_table, write_export_dataset
from trainer_harness import TRAINING_SRC, job_env

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


FAKE_NVIDIA_SMI = """#!/bin/sh
# What `nvidia-smi --list-gpus` prints on a host with two GPUs; the toolkit counts the lines starting "GPU ".
echo "GPU 0: NVIDIA A10G (UUID: GPU-00000000-0000-0000-0000-000000000000)"
echo "GPU 1: NVIDIA A10G (UUID: GPU-11111111-1111-1111-1111-111111111111)"
"""


def test_toolkit_runs_one_process_per_gpu_on_fastfile_channels_of_an_athena_export(tmp_path: Path) -> None:
    """The step the builder renders for one multi-GPU instance with ``input_mode: FastFile``, run by the toolkit.

    The toolkit sizes torchrun from the GPUs it finds: ``default_processes_per_host = env.num_gpus``, which
    counts the ``GPU `` lines of ``nvidia-smi --list-gpus`` (sagemaker-training 5.1.4, runner.py and
    environment.py). A stand-in ``nvidia-smi`` reporting two GPUs makes it start two ranks here, on the CPU
    (torch has no CUDA), where ml.g5.12xlarge would start four. FastFile channels appear at the same
    ``/opt/ml/input/data/<channel>`` paths as File ones (TrainingInputMode, SageMaker API Reference).
    """
    from constructs_lib.definition.render import render_pipeline_definition
    from tests.unit.definition_requests import make_request, training_step

    rendered = training_step(
        render_pipeline_definition(make_request(instance_type="ml.g5.12xlarge", input_mode="FastFile"))
    )["Arguments"]
    assert json.loads(rendered["HyperParameters"]["sagemaker_torch_distributed_enabled"]) is True
    modes = {channel["ChannelName"]: channel["InputMode"] for channel in rendered["InputDataConfig"]}
    assert set(modes.values()) == {"FastFile"}
    base = tmp_path / "ml"
    bundle = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(bundle, "w:gz") as archive:
        for module in [*sorted(TRAINING_SRC.glob("*.py")), TRAINING_SRC / "requirements.txt"]:
            archive.add(module, arcname=module.name)
    hyperparameters = {"epochs": 2, "log_interval_steps": 3, "hidden_sizes": [16, 8], "feature_columns": []}
    _write_job_config(base, bundle, rendered["HyperParameters"], hyperparameters)
    input_config = base / "input" / "config" / "inputdataconfig.json"
    input_config.write_text(json.dumps({name: {"TrainingInputMode": mode} for name, mode in modes.items()}))
    for seed, (channel, rows) in enumerate((("train", 1200), ("val", 400), ("test", 400))):
        (base / "input" / "data" / channel).mkdir(parents=True)
        pq.write_table(athena_table(rows, seed), base / "input" / "data" / channel / "part-00000.parquet")
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(FAKE_NVIDIA_SMI)
    fake.chmod(0o755)
    env = job_env(base, base / "input" / "data")
    for key in [key for key in env if key.startswith("SM_")]:
        del env[key]
    path = f"{fake.parent}:{Path(sys.executable).parent}:{env['PATH']}"  # the image has torchrun on PATH
    env.update(CHECKPOINT_DIR=str(tmp_path / "checkpoints"), PATH=path,
               SAGEMAKER_TRAINING_MODULE="sagemaker_pytorch_container.training:main")  # fmt: skip
    if not _resolves(HOST):
        env["SM_STUDIO_LOCAL_MODE"] = "true"
    result = subprocess.run(
        [sys.executable, "-c", "from sagemaker_training.cli.train import main; main()"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    logs = result.stdout + result.stderr
    assert result.returncode == 0, logs[-4000:]
    assert re.search(r"torchrun --nnodes 1 --nproc_per_node 2 ", logs), logs[-4000:]
    assert "world size 2 (gloo)" in logs and "weights identical on all 2 ranks" in logs, logs[-6000:]
    assert "3 features ['amount', 'event_ms', 'x']" in logs
    assert "excluded column(s): 'customer' (string, not numeric), 'created' (timestamp[us], not numeric)" in logs
    meta = json.loads((base / "model" / "model_meta.json").read_text())
    assert meta["feature_types"]["amount"] == "decimal128(18, 2)"
    assert [column["name"] for column in meta["excluded_columns"]] == ["customer", "created", "segment", "blob"]
    assert (base / "output" / "success").exists()
