"""Errors found outside pydantic (on disk, by the renderer, by the SDK) use the same one-line path form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import app as app_module
from constructs_lib.config.errors import ConfigError
from tests.conftest import PROJECT_ROOT

GPU = {"instance_type": "ml.g5.xlarge"}


def build_error(tmp_path: Path, stage: dict[str, Any]) -> str:
    """The message of building the app of a ``cdk.json`` whose only stage is ``dev``."""
    document = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    document["context"]["stages"] = {"dev": {"region": "us-east-1", **stage}}
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as raised:
        app_module.create_app(cdk_json, outdir=str(tmp_path / "cdk.out"))
    return str(raised.value)


@pytest.mark.parametrize(
    ("stage", "field", "detail"),
    [
        # The trainer is the construct's prop, not a stage setting: its folder and script are not cdk.json keys.
        ({"model": {"source_dir": "no_such_folder"}}, "model.source_dir", "unknown key (check the spelling"),
        ({"model": {"entry_point": "missing.py"}}, "model.entry_point", "unknown key (check the spelling"),
        (
            {"model": {"framework_version": "2.2.0", "py_version": "py310"}},
            "model.py_version",
            "py310 cannot pip install training_src/requirements.txt: pyarrow==",
        ),
        ({"network": {"enable_network_isolation": True}}, "network.enable_network_isolation", "no network to pip"),
        ({"model": {"instance_count": 2}}, "model", "the SageMaker SDK rejects instance_type=ml.m5.xlarge"),
        ({"model": {**GPU, "volume_size": 100}}, "model.volume_size", "ml.g5.xlarge trains on its local NVMe"),
        (
            {"registry": {"transform_instance_types": ["ml.g5.xlarge"]}},
            "registry.inference_instance_types",
            "need different inference images",
        ),
        ({"registry": {"inference_instance_types": ["ml.inf2.xlarge"]}}, "registry", "no PyTorch inference image"),
        # CreateModelPackage validates these against ProductionVariantInstanceType / TransformInstanceType
        # (botocore's service model): a typo would otherwise fail RegisterModel after the whole training job.
        (
            {"registry": {"inference_instance_types": ["ml.m5.larg"]}},
            "registry.inference_instance_types",
            "not a SageMaker ProductionVariantInstanceType: 'ml.m5.larg' (did you mean ml.m5.large",
        ),
        # CreateTrainingJob validates the training type against TrainingInstanceType: a typo fails the run.
        (
            {"model": {"instance_type": "ml.m5.huge"}},
            "model.instance_type",
            "not a SageMaker TrainingInstanceType: 'ml.m5.huge' (did you mean ml.m5.large, ml.m5.xlarge",
        ),
        (
            {"model": {"instance_type": "ml.m5.xlarg"}},
            "model.instance_type",
            "not a SageMaker TrainingInstanceType: 'ml.m5.xlarg' (did you mean ml.m5.xlarge",
        ),
        # A training type whose instance storage is not in constructs_lib/config/instance_storage.py's list.
        (
            {"model": {"instance_type": "ml.p6e-gb200.36xlarge"}},
            "model.instance_type",
            "the storage of instance family p6e-gb200 (ml.p6e-gb200.36xlarge) is not known",
        ),
        (
            {"registry": {"transform_instance_types": ["ml.q9.huge"]}},
            "registry.transform_instance_types",
            "not a SageMaker TransformInstanceType: 'ml.q9.huge'",
        ),
    ],
)
def test_error_names_stage_and_field(tmp_path: Path, stage: dict[str, Any], field: str, detail: str) -> None:
    message = build_error(tmp_path, stage)
    assert message.startswith(f"cdk.json: context.stages.dev.{field}: "), message
    assert detail in message and "\n" not in message
