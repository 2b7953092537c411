"""Config models: defaults, validation errors that name the field, cdk.json loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.config.cdk_json import read_cdk_json_context
from constructs_lib.config.errors import ConfigError
from constructs_lib.config.model_config import DEFAULT_MAX_RUN_SECONDS, ModelConfig, ModelHyperparameters, ModelSettings
from constructs_lib.config.stage_config import load_stages, parse_stage
from training_src import contract

S3 = "s3://bucket-name/prefix"


def stage_error(raw: dict[str, Any], name: str = "dev") -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stage(name, {"region": "us-east-1", **raw})
    return str(caught.value)


def test_model_config_defaults_and_checkpoint_accessors() -> None:
    config = ModelConfig(entry_point="train.py", source_dir=f"{S3}/code.tar.gz", input_path=S3, output_path=S3)
    assert config.max_run == DEFAULT_MAX_RUN_SECONDS == 4 * 24 * 3600
    assert config.entry_point == "train.py"
    assert not config.has_checkpoint()
    with pytest.raises(ValueError, match="checkpoint_uri is not set"):
        config.get_checkpoint_uri()
    fixed = config.model_copy(update={"checkpoint_uri": f"{S3}/ckpt"})
    assert fixed.has_checkpoint() and fixed.get_checkpoint_uri() == f"{S3}/ckpt"


def test_hyperparameters_follow_the_contract() -> None:
    params = ModelHyperparameters()
    assert params.get_config() == contract.DEFAULT_HYPERPARAMETERS
    assert list(ModelHyperparameters.model_fields) == [spec.name for spec in contract.HYPERPARAMETERS]


def test_serialize_config_is_a_string_map_with_lists_as_json() -> None:
    params = ModelHyperparameters(feature_columns=["a", "b"], hidden_sizes=[8], learning_rate=0.1, epochs=3)
    serialized = params.serialize_config()
    assert all(isinstance(value, str) for value in serialized.values())
    assert serialized["feature_columns"] == '["a","b"]'
    assert serialized["hidden_sizes"] == "[8]"
    assert serialized["learning_rate"] == "0.1"
    assert serialized["epochs"] == "3"
    assert serialized["label_column"] == "label"
    for spec in contract.HYPERPARAMETERS:
        assert contract.parse_value(spec, serialized[spec.name]) == params.get_config()[spec.name]


ECR = "763104351884.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("raw", "field", "detail"),
    [
        ({"account": "12345"}, "account", "should match pattern"),
        ({"region": "us-east-9"}, "region", "'us-east-9' is not a known AWS region"),
        ({"pipeline_name": "bad_name!"}, "pipeline_name", "should match pattern"),
        ({"pipeline_name": "a" * 257}, "pipeline_name", "at most 256"),
        ({"model": {"instance_type": "m5.xlarge"}}, "model.instance_type", "should match pattern"),
        ({"model": {"instance_count": 0}}, "model.instance_count", "greater than or equal to 1"),
        ({"model": {"volume_size": 0}}, "model.volume_size", "greater than or equal to 1"),
        ({"model": {"volume_size": 20000}}, "model.volume_size", "less than or equal to 16384"),
        ({"model": {"framework_version": "9.9.9"}}, "model.framework_version", "'9.9.9' has no PyTorch training image"),
        ({"model": {"py_version": "py38"}}, "model.py_version", "'py38' does not pair with framework_version"),
        ({"model": {"max_run": 28 * 86400 + 1}}, "model.max_run", "less than or equal to 2419200"),
        ({"model": {"use_spot_instances": True}}, "model", "use_spot_instances requires max_wait"),
        ({"model": {"use_spot_instances": True, "max_wait": 10, "max_run": 20}}, "model", "greater than max_run"),
        ({"model": {"image_uri": "pytorch/pytorch:2.8.0"}}, "model.image_uri", "not an Amazon ECR image URI"),
        (
            {"model": {"image_uri": f"{ECR.replace('us-east-1', 'eu-west-1')}/pytorch-training:2.8.0-cpu-py312"}},
            "model.image_uri",
            "is in eu-west-1; use a copy in ECR in us-east-1",
        ),
        (
            {"model": {"image_uri": f"{ECR}/pytorch-training:2.9.0-gpu-py313-cu130", "py_version": "py312"}},
            "model.py_version",
            "differs from the Python of model.image_uri (py313)",
        ),
        ({"hyperparameters": {"epochs": 0}}, "hyperparameters.epochs", "greater than or equal to 1"),
        ({"hyperparameters": {"batch_size": 0}}, "hyperparameters.batch_size", "greater than or equal to 1"),
        ({"hyperparameters": {"learning_rate": 0}}, "hyperparameters.learning_rate", "greater than 0"),
        ({"hyperparameters": {"learning_rate": 2.0}}, "hyperparameters.learning_rate", "less than or equal to 1"),
        ({"hyperparameters": {"epochs": "ten"}}, "hyperparameters.epochs", "valid integer"),
        ({"hyperparamters": {}}, "hyperparamters", "unknown key"),
        ({"model": {"instance_typ": "ml.m5.large"}}, "model.instance_typ", "unknown key"),
        ({"network": {"subnet_ids": ["subnet-1"]}}, "network", "must be set together"),
        ({"storage": {"removal_policy": "delete"}}, "storage.removal_policy", "'retain' or 'destroy'"),
        ({"channels": ["train"]}, "channels", "train and val always, test optional"),
        ({"channels": ["train", "val", "tst"]}, "channels", "valid: train, val, test"),
        ({"channels": ["train", "val", "val"]}, "channels", "each channel once"),
        ({"registry": {"approval_status": "Rejected"}}, "registry.approval_status", "'PendingManualApproval' or"),
        ({"registry": {"quality_threshold": 1.5}}, "registry.quality_threshold", "less than or equal to 1"),
        ({"registry": {"model_package_group_name": "a_b"}}, "registry.model_package_group_name", "pattern"),
        ({"registry": {"inference_instance_types": []}}, "registry.inference_instance_types", "at least 1"),
        ({"registry": {"transform_instance_types": ["m5"]}}, "registry.transform_instance_types.0", "pattern"),
        (
            {"registry": {"inference_framework_version": "2.8.0"}},
            "registry.inference_framework_version",
            "'2.8.0' has no PyTorch inference image in us-east-1; valid there: ",
        ),
        (
            {"registry": {"inference_py_version": "py310"}},
            "registry.inference_py_version",
            "'py310' does not pair with framework_version 2.6.0; valid: py312",
        ),
        ({"registry": {"inference_image_uri": "x"}}, "registry.inference_image_uri", "not an Amazon ECR image URI"),
        (
            {"registry": {"inference_py_version": "py39"}},
            "registry.inference_py_version",
            "'py39' is older than the serving code supports (Python 3.10+: py310 or later)",
        ),
        ({"model": {"input_mode": "Pipe"}}, "model.input_mode", "'File' or 'FastFile'"),
    ],
)
def test_invalid_stage_names_the_field(raw: dict[str, Any], field: str, detail: str) -> None:
    """One form for every error: ``cdk.json: context.stages.<stage>.<field>: <what is wrong and what is valid>``."""
    message = stage_error(raw)
    assert message.startswith(f"cdk.json: context.stages.dev.{field}: "), message
    assert detail in message
    assert "\n" not in message and "Traceback" not in message


def test_bad_stage_name_is_rejected() -> None:
    assert "context.stages.1dev.name" in stage_error({}, name="1dev")


def test_valid_stage_resolves_defaults() -> None:
    stage = parse_stage("dev", {"region": "eu-west-1", "account": "123456789012"})
    assert stage.resolved_pipeline_name == "dev-pytorch-training"
    assert stage.model == ModelSettings()
    assert stage.storage.removal_policy == "retain"


def test_load_stages_selects_one_and_reports_unknown() -> None:
    context = {"stages": {"dev": {"region": "us-east-1"}, "prod": {"region": "eu-west-1"}}}
    assert [s.name for s in load_stages(context)] == ["dev", "prod"]
    assert [s.name for s in load_stages(context, selected="prod")] == ["prod"]
    with pytest.raises(ConfigError, match=r"unknown stage; valid: dev, prod"):
        load_stages(context, selected="qa")
    with pytest.raises(ConfigError, match=r"context\.stages: must be an object"):
        load_stages({"stages": ["dev"]})


def test_errors_of_all_stages_are_reported_together() -> None:
    context = {"stages": {"dev": {"region": "nowhere"}, "prod": {"region": "eu-west-1", "account": "1"}}}
    with pytest.raises(ConfigError) as caught:
        load_stages(context)
    assert "context.stages.dev" in str(caught.value) and "context.stages.prod.account" in str(caught.value)


def test_cdk_json_unknown_keys_are_typos(tmp_path: Path) -> None:
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps({"app": "x", "contxt": {}, "context": {"stagez": {}, "@aws-cdk/core:flag": True}}))
    with pytest.raises(ConfigError) as caught:
        read_cdk_json_context(path)
    assert "cdk.json: contxt: unknown top-level key" in str(caught.value)
    assert "cdk.json: context.stagez: unknown key" in str(caught.value)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"cdk\.json: not valid JSON"):
        read_cdk_json_context(path)


def test_project_cdk_json_is_valid() -> None:
    context = read_cdk_json_context(Path(__file__).resolve().parents[2] / "cdk.json")
    stages = load_stages(context)
    assert {s.name for s in stages} == {"dev", "prod"}
    assert all(s.account is None for s in stages), "the default stages must synth without an AWS account"


def test_registry_defaults_and_the_approval_statuses_the_pipeline_may_pass() -> None:
    stage = parse_stage("dev", {"region": "us-east-1"})
    assert stage.channels == list(contract.CHANNELS)
    assert stage.resolved_model_package_group_name == "dev-pytorch-models"
    assert stage.registry.allowed_approval_statuses == ("PendingManualApproval",)
    approving = parse_stage("qa", {"region": "us-east-1", "registry": {"approval_status": "Approved"}})
    assert approving.registry.allowed_approval_statuses == ("PendingManualApproval", "Approved")
    named = parse_stage("qa", {"region": "us-east-1", "registry": {"model_package_group_name": "Fraud-Models"}})
    assert named.resolved_model_package_group_name == "Fraud-Models"


def test_image_uri_override_skips_the_catalog_but_checks_region_and_python() -> None:
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-pytorch@sha256:" + "a" * 64
    stage = parse_stage("dev", {"region": "us-east-1", "model": {"image_uri": uri, "framework_version": "9.9.9"}})
    assert stage.model.image_uri == uri  # a digest has no Python in its name; framework_version is not used
