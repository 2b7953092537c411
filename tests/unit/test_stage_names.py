"""Stage names and the ``cdk.json`` they come from: no two stages that are one to SageMaker, no block lost.

* Case: SageMaker writes resource names into its ARNs in lowercase (the ARNs the permission matrix
  evaluates, e.g. ``model-package-group/<group>`` "in lowercase as SageMaker writes ARNs", README
  "Roles"), so ``staging`` and ``Staging`` would share one model package group and each pipeline role,
  trusting the lowercased pipeline ARN, would trust the other's pipeline.
* Repeated keys: "The names within an object SHOULD be unique" (RFC 8259, section 4); Python's ``json``
  keeps the last of two, as does the CDK CLI's ``JSON.parse``, so the first block was dropped silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constructs_lib.config.cdk_json import read_cdk_json_context
from constructs_lib.config.errors import ConfigError
from constructs_lib.config.stage_config import load_stages, parse_stage
from ops.stages import load_stage

REGION = {"region": "us-east-1"}


def test_stages_that_differ_only_in_case_share_their_arns() -> None:
    """The premise: the default names of ``staging`` and ``Staging`` are one name in an ARN."""
    lower, upper = parse_stage("staging", REGION), parse_stage("Staging", REGION)
    assert lower.resolved_model_package_group_name != upper.resolved_model_package_group_name
    assert lower.resolved_model_package_group_name.lower() == upper.resolved_model_package_group_name.lower()
    assert lower.resolved_pipeline_name.lower() == upper.resolved_pipeline_name.lower()


@pytest.mark.parametrize("selected", [None, "staging", "Staging", "dev"])
def test_stages_that_differ_only_in_case_are_refused(selected: str | None) -> None:
    """Also when one stage is selected (``-c stage=...``): deploying the other later would clash."""
    context = {"stages": {"staging": REGION, "dev": REGION, "Staging": {"region": "eu-west-1"}}}
    with pytest.raises(ConfigError) as raised:
        load_stages(context, selected=selected)
    message = str(raised.value)
    assert message.startswith("cdk.json: context.stages.Staging: differs from stage 'staging' only in case;")
    assert "share one model package group" in message and message.endswith("rename one")


def test_distinct_names_still_load() -> None:
    context = {"stages": {"staging": REGION, "staging-eu": {"region": "eu-west-1"}}}
    assert [stage.name for stage in load_stages(context)] == ["staging", "staging-eu"]


def cdk_json_text(stages_text: str) -> str:
    return '{"app": "python3 app.py", "context": {"stages": ' + stages_text + ', "@aws-cdk/core:flag": true}}'


def test_a_stage_written_twice_is_refused(tmp_path: Path) -> None:
    text = cdk_json_text('{"staging": {"region": "us-east-1"}, "prod": {"region": "eu-west-1"}, "staging": {}}')
    assert json.loads(text)["context"]["stages"]["staging"] == {}, "plain JSON keeps the last block silently"
    path = tmp_path / "cdk.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        read_cdk_json_context(path)
    assert str(raised.value) == (
        "cdk.json: context.stages.staging: written more than once; JSON keeps only the last, so the first "
        "would be silently dropped: merge them into one, or rename one"
    )
    with pytest.raises(ConfigError, match=r"context\.stages\.staging: written more than once"):
        load_stage("prod", path)  # the operator CLI reads the file the same way


def test_a_repeated_key_inside_a_stage_is_named_by_its_path(tmp_path: Path) -> None:
    stages = '{"dev": {"region": "us-east-1", "model": {"instance_type": "ml.g5.xlarge"}, "model": {}}}'
    path = tmp_path / "cdk.json"
    path.write_text(cdk_json_text(stages))
    with pytest.raises(ConfigError, match=r"^cdk\.json: context\.stages\.dev\.model: written more than once"):
        read_cdk_json_context(path)


def test_the_same_key_in_different_objects_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "cdk.json"
    path.write_text(cdk_json_text('{"dev": {"region": "us-east-1"}, "prod": {"region": "eu-west-1"}}'))
    assert set(read_cdk_json_context(path)["stages"]) == {"dev", "prod"}


@pytest.mark.parametrize("context", [{}, {"stages": {}}])
def test_no_stages_says_so(context: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as raised:
        load_stages(context)
    assert str(raised.value).startswith("cdk.json: context.stages: no stages are defined; add one, e.g. ")
    assert '"stages": {"dev": {"region": "us-east-1"}}' in str(raised.value)


def test_a_missing_required_field_shows_an_example() -> None:
    with pytest.raises(ConfigError) as raised:
        load_stages({"stages": {"dev": {"model": {"instance_type": "ml.g5.xlarge"}}}})
    assert str(raised.value) == 'cdk.json: context.stages.dev.region: required; for example "region": "us-east-1"'
