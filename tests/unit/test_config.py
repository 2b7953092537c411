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
    config = ModelConfig(source_dir=f"{S3}/code.tar.gz", input_path=S3, output_path=S3)
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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"account": "12345"}, "context.stages.dev.account"),
        ({"region": "us-east-9"}, "region 'us-east-9' is not a known AWS region"),
        ({"pipeline_name": "bad_name!"}, "context.stages.dev.pipeline_name"),
        ({"pipeline_name": "a" * 257}, "context.stages.dev.pipeline_name"),
        ({"model": {"instance_type": "m5.xlarge"}}, "context.stages.dev.model.instance_type"),
        ({"model": {"instance_count": 0}}, "context.stages.dev.model.instance_count"),
        ({"model": {"volume_size": 0}}, "context.stages.dev.model.volume_size"),
        ({"model": {"volume_size": 20000}}, "context.stages.dev.model.volume_size"),
        ({"model": {"framework_version": "9.9.9"}}, "model.framework_version '9.9.9' has no PyTorch training image"),
        ({"model": {"py_version": "py38"}}, "model.py_version 'py38' does not pair with framework_version"),
        ({"model": {"max_run": 28 * 86400 + 1}}, "context.stages.dev.model.max_run"),
        ({"model": {"use_spot_instances": True}}, "use_spot_instances requires max_wait"),
        ({"model": {"use_spot_instances": True, "max_wait": 10, "max_run": 20}}, "must be greater than max_run"),
        ({"hyperparameters": {"epochs": 0}}, "context.stages.dev.hyperparameters.epochs"),
        ({"hyperparameters": {"batch_size": 0}}, "context.stages.dev.hyperparameters.batch_size"),
        ({"hyperparameters": {"learning_rate": 0}}, "context.stages.dev.hyperparameters.learning_rate"),
        ({"hyperparameters": {"learning_rate": 2.0}}, "context.stages.dev.hyperparameters.learning_rate"),
        ({"hyperparameters": {"epochs": "ten"}}, "context.stages.dev.hyperparameters.epochs"),
        ({"hyperparamters": {}}, "context.stages.dev.hyperparamters: unknown key"),
        ({"model": {"instance_typ": "ml.m5.large"}}, "context.stages.dev.model.instance_typ: unknown key"),
        ({"network": {"subnet_ids": ["subnet-1"]}}, "subnet_ids and security_group_ids must be set together"),
        ({"storage": {"removal_policy": "delete"}}, "context.stages.dev.storage.removal_policy"),
    ],
)
def test_invalid_stage_names_the_field(raw: dict[str, Any], expected: str) -> None:
    message = stage_error(raw)
    assert expected in message
    assert message.startswith("cdk.json: ")
    assert "Traceback" not in message


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
        load_stages({})


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
