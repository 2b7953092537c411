"""``definition.checks``: each rule detected on a definition JSON, and synth refusing a bad definition."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import app as app_module
import constructs_lib.sagemaker_pipeline as training_pipeline_module
from constructs_lib.config.errors import ConfigError
from constructs_lib.definition.checks import DefinitionCheckError, check_definition, find_definition_violations
from constructs_lib.definition.render_cache import ROLE_PLACEHOLDER
from tests.security.conftest import BuiltApp

OTHER_ROLE = "arn:aws:iam::000000000000:role/someone-elses-role"


@pytest.fixture(scope="module")
def spot_definition(built: BuiltApp) -> dict[str, Any]:
    """The spot stage's rendered definition: KMS output, checkpoints, max_wait > max_run, one instance."""
    definition: dict[str, Any] = json.loads(
        built.stacks["spot"].training_pipeline.sagemaker_pipeline.rendered_definition
    )
    return definition


def _violations(definition: dict[str, Any], role: str = ROLE_PLACEHOLDER) -> list[str]:
    return find_definition_violations(json.dumps(definition), role)


def _arguments(definition: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in definition["Steps"] if s["Type"] == "Training"]
    arguments: dict[str, Any] = step["Arguments"]
    return arguments


@pytest.mark.parametrize("stage", ["dev", "prod", "destroy", "vpc", "spot"])
def test_rendered_definitions_pass(built: BuiltApp, stage: str) -> None:
    assert (
        find_definition_violations(
            built.stacks[stage].training_pipeline.sagemaker_pipeline.rendered_definition, ROLE_PLACEHOLDER
        )
        == []
    )


def test_spot_definition_is_the_spot_case(spot_definition: dict[str, Any]) -> None:
    arguments = _arguments(spot_definition)
    assert arguments["EnableManagedSpotTraining"] is True
    assert arguments["CheckpointConfig"]["S3Uri"]


def test_missing_output_kms_key(spot_definition: dict[str, Any]) -> None:
    definition = copy.deepcopy(spot_definition)
    del _arguments(definition)["OutputDataConfig"]["KmsKeyId"]
    assert _violations(definition) == [
        "step ModelTraining: OutputDataConfig has no KmsKeyId; training output must be KMS-encrypted"
    ]


def test_spot_without_checkpoints(spot_definition: dict[str, Any]) -> None:
    definition = copy.deepcopy(spot_definition)
    del _arguments(definition)["CheckpointConfig"]
    assert _violations(definition) == [
        "step ModelTraining: managed spot training without CheckpointConfig would lose progress"
    ]


@pytest.mark.parametrize("max_wait", [86400, 3600])
def test_spot_max_wait_not_above_max_run(spot_definition: dict[str, Any], max_wait: int) -> None:
    definition = copy.deepcopy(spot_definition)
    stopping = _arguments(definition)["StoppingCondition"]
    stopping["MaxWaitTimeInSeconds"] = max_wait
    assert stopping["MaxRuntimeInSeconds"] == 86400
    assert _violations(definition) == [
        f"step ModelTraining: spot needs MaxWaitTimeInSeconds ({max_wait}) > MaxRuntimeInSeconds (86400)"
    ]


def test_spot_without_max_wait(spot_definition: dict[str, Any]) -> None:
    definition = copy.deepcopy(spot_definition)
    del _arguments(definition)["StoppingCondition"]["MaxWaitTimeInSeconds"]
    assert len(_violations(definition)) == 1


def test_wrong_role(spot_definition: dict[str, Any]) -> None:
    definition = copy.deepcopy(spot_definition)
    _arguments(definition)["RoleArn"] = OTHER_ROLE
    assert _violations(definition) == [
        f"step ModelTraining: runs under role {OTHER_ROLE!r}, not the stack's training role"
    ]


def test_multi_instance_without_inter_container_encryption(built: BuiltApp) -> None:
    definition = json.loads(built.stacks["prod"].training_pipeline.sagemaker_pipeline.rendered_definition)
    arguments = _arguments(definition)
    assert arguments["ResourceConfig"]["InstanceCount"] == 2
    arguments["EnableInterContainerTrafficEncryption"] = False
    assert len(_violations(definition)) == 1
    assert "EnableInterContainerTrafficEncryption" in _violations(definition)[0]


def test_every_violation_is_listed_and_other_steps_are_ignored(spot_definition: dict[str, Any]) -> None:
    definition = copy.deepcopy(spot_definition)
    arguments = _arguments(definition)
    del arguments["OutputDataConfig"]["KmsKeyId"]
    del arguments["CheckpointConfig"]
    arguments["RoleArn"] = OTHER_ROLE
    definition["Steps"].append({"Name": "Report", "Type": "Processing", "Arguments": {}})
    with pytest.raises(DefinitionCheckError) as raised:
        check_definition(json.dumps(definition), ROLE_PLACEHOLDER)
    message = str(raised.value)
    assert message.startswith("pipeline definition failed security checks:")
    for fragment in ("KmsKeyId", "CheckpointConfig", OTHER_ROLE):
        assert fragment in message
    assert "Report" not in message


def _without_output_key(definition: str) -> str:
    parsed = json.loads(definition)
    del _arguments(parsed)["OutputDataConfig"]["KmsKeyId"]
    return json.dumps(parsed)


def test_synth_refuses_a_bad_definition(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_render = training_pipeline_module.render_definition_cached
    monkeypatch.setattr(
        training_pipeline_module,
        "render_definition_cached",
        lambda request, cache_dir=None: _without_output_key(real_render(request, cache_dir)),
    )
    with pytest.raises(DefinitionCheckError, match="step ModelTraining: OutputDataConfig has no KmsKeyId"):
        app_module.create_app(context={"stage": "dev"}, outdir=str(tmp_path))


def test_app_reports_a_bad_definition_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_render = training_pipeline_module.render_definition_cached
    monkeypatch.setattr(
        training_pipeline_module,
        "render_definition_cached",
        lambda request, cache_dir=None: _without_output_key(real_render(request, cache_dir)),
    )
    assert issubclass(DefinitionCheckError, ConfigError)
    with pytest.raises(SystemExit) as exited:
        app_module.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "Invalid configuration:" in err
    assert "OutputDataConfig has no KmsKeyId" in err
    assert "Traceback" not in err
