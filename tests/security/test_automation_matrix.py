"""The permission matrix of the automation: every call its pieces make, evaluated against the synthesized policies.

Rows come from ``automation_calls.py`` (the deployer's rows from running its code); decisions from the same
IAM evaluator as the pipeline's matrix, with the topic policies and Lambda permissions added
(``automation_iam.py``). Each planted defect is denied on exactly its own rows.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.security.automation_calls import automation_calls
from tests.security.automation_iam import AutomationIam, automation_iam
from tests.security.automation_stages import AUTOMATION_STAGE_NAMES
from tests.security.cfn_resolver import CfnEnvironment
from tests.security.conftest import ALL_STAGES, BuiltApp
from tests.security.execution_model import Call, Execution
from tests.security.iam_evaluator import Decision


def model(built: BuiltApp, stage: str, template: dict[str, Any] | None = None) -> AutomationIam:
    return automation_iam(template or built.template(stage), CfnEnvironment(built.stacks[stage].region))


def denied(iam: AutomationIam) -> list[tuple[Call, Decision]]:
    decided = [(call, iam.authorize(call.request())) for call in automation_calls(iam, Execution(iam.stack))]
    return [(call, decision) for call, decision in decided if decision is not Decision.ALLOW]


def describe(found: list[tuple[Call, Decision]]) -> str:
    return "\n".join(f"{decision.value}: {call}" for call, decision in found)


@pytest.mark.parametrize("stage", AUTOMATION_STAGE_NAMES)
def test_every_call_of_the_automation_is_allowed(built: BuiltApp, stage: str) -> None:
    found = denied(model(built, stage))
    assert found == [], describe(found)


@pytest.mark.parametrize("stage", [s for s in ALL_STAGES if s not in AUTOMATION_STAGE_NAMES])
def test_stages_without_automation_have_no_rows(built: BuiltApp, stage: str) -> None:
    assert automation_calls(model(built, stage), Execution(model(built, stage).stack)) == []


def actions_of(built: BuiltApp, stage: str) -> dict[str, list[Call]]:
    iam = model(built, stage)
    found: dict[str, list[Call]] = {}
    for call in automation_calls(iam, Execution(iam.stack)):
        found.setdefault(call.action, []).append(call)
    return found


def test_the_rows_follow_the_stage(built: BuiltApp) -> None:
    """Not vacuous: each stage's own settings produce their rows, and the deployer's come from running its code."""
    auto, nvme = actions_of(built, "auto"), actions_of(built, "AutoNvme")
    assert {"sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:CreateModel", "iam:PassRole"} <= set(
        auto
    )
    assert [c.resource for c in auto["sagemaker:ListEndpointConfigs"]] == ["*"]  # the rollback report
    assert len(auto["kms:CreateGrant"]) == 2  # the create and the update, whose configuration carries the key
    assert "kms:CreateGrant" not in nvme  # ml.g5: local storage, no KmsKeyId
    assert [c.row for c in auto["s3:PutObject"]] == ["endpoint: write captured data"]
    assert "s3:PutObject" not in nvme
    assert len([c for c in auto["sns:Publish"] if c.principal == "events.amazonaws.com"]) == 2  # both rules
    deployer = model(built, "AutoNvme").role_arn("DeploymentDeployerRole")
    assert [c.principal for c in nvme["sns:Publish"]] == [deployer] * 3  # two deployments and a report; no rule
    assert {c.resource.rsplit("/", 1)[-1] for c in nvme["sagemaker:StartPipelineExecution"]} == {
        "AutoNvme-Training",
        "autonvme-training",
    }
    update = list(auto["sagemaker:UpdateEndpoint"])
    assert {c.resource.split(":")[-1].split("/")[0] for c in update} == {"endpoint", "endpoint-config"}


def _statement_list(template: dict[str, Any], logical_prefix: str) -> list[dict[str, Any]]:
    (resource,) = [v for k, v in template["Resources"].items() if k.startswith(logical_prefix)]
    if resource["Type"] == "AWS::KMS::Key":
        statements: list[dict[str, Any]] = resource["Properties"]["KeyPolicy"]["Statement"]
    else:
        statements = resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _drop(logical_prefix: str, sid: str) -> Callable[[dict[str, Any]], None]:
    def defect(template: dict[str, Any]) -> None:
        statements = _statement_list(template, logical_prefix)
        statements[:] = [s for s in statements if s.get("Sid") != sid]

    return defect


def _edit(logical_prefix: str, sid: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def defect(template: dict[str, Any]) -> None:
        (statement,) = [s for s in _statement_list(template, logical_prefix) if s.get("Sid") == sid]
        edit(statement)

    return defect


def _schedule_trust_without_the_group(template: dict[str, Any]) -> None:
    (role,) = [
        v for k, v in template["Resources"].items() if k.startswith("ScheduleRole") and v["Type"] == "AWS::IAM::Role"
    ]
    condition = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnLike"]
    condition["aws:SourceArn"] = [arn for arn in condition["aws:SourceArn"] if "schedule-group" not in json.dumps(arn)]


def _no_lambda_permissions(template: dict[str, Any]) -> None:
    for logical_id in [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Permission"]:
        del template["Resources"][logical_id]


def _lowercase_only(statement: dict[str, Any]) -> None:
    statement["Resource"] = [r for r in statement["Resource"] if "AutoNvme" not in json.dumps(r)]


RULE_SUFFIX = re.compile(r" \([^()]*-(run-failed|step-failed|on-approval|state)\)$")
"""Rows made once per rule end with the rule's name; a defect's expected rows name them without it."""
DEFECTS = [
    pytest.param(
        _drop("StorageKey", "EventBridgePublishesPipelineAlerts"),
        "auto",
        {("alerts: SNS uses the key for EventBridge", a) for a in ("kms:GenerateDataKey", "kms:Decrypt")},
        id="key-policy-without-eventbridge",
    ),
    pytest.param(
        _schedule_trust_without_the_group,
        "auto",
        {("schedule: Scheduler assumes its role (group ARN)", "sts:AssumeRole")},
        id="trust-without-the-group",
    ),
    pytest.param(
        _edit("ScheduleRoleDefaultPolicy", "StartThisPipeline", _lowercase_only),
        "AutoNvme",
        {("schedule: start the pipeline (AutoNvme-Training)", "sagemaker:StartPipelineExecution")},
        id="pipeline-name-lowercased-only",
    ),
    pytest.param(
        _drop("DeploymentDeployerRoleDefaultPolicy", "PassInferenceRole"),
        "auto",
        {("deployer: CreateModel", "iam:PassRole")},
        id="deployer-cannot-pass-the-role",
    ),
    pytest.param(
        _edit(
            "DeploymentDeployerRoleDefaultPolicy",
            "CreateEndpointConfigs",
            lambda s: s["Condition"]["ForAllValues:StringEquals"].update(
                {"sagemaker:InstanceTypes": ["ml.p5.48xlarge"]}
            ),
        ),
        "auto",
        {("deployer: CreateEndpointConfig", "sagemaker:CreateEndpointConfig")},
        id="other-instance-type",
    ),
    pytest.param(
        _drop("DeploymentDeployerRoleDefaultPolicy", "EncryptEndpointVolumes"),
        "auto",
        {("deployer: CreateEndpoint", "kms:CreateGrant"), ("deployer: UpdateEndpoint", "kms:CreateGrant")},
        id="no-volume-grant",
    ),
    pytest.param(
        _drop("DeploymentInferenceRoleDefaultPolicy", "DecryptModelsThroughS3"),
        "auto",
        {("endpoint: decrypt it through S3", "kms:Decrypt")},
        id="model-not-decryptable",
    ),
    pytest.param(
        _no_lambda_permissions,
        "auto",
        {("deployer: EventBridge invokes it", "lambda:InvokeFunction")},
        id="no-lambda-permission",
    ),
    pytest.param(
        _drop("StorageKey", "CloudWatchLogsEncryptsDeployerLogs"),
        "AutoNvme",
        {
            ("deployer: CloudWatch Logs encrypts its log group", a)
            for a in ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")
        },
        id="log-group-key-not-usable",
    ),
]


@pytest.mark.parametrize(("defect", "stage", "expected"), DEFECTS)
def test_a_planted_defect_is_denied_on_its_own_rows(
    built: BuiltApp, defect: Callable[[dict[str, Any]], None], stage: str, expected: set[tuple[str, str]]
) -> None:
    template = copy.deepcopy(built.template(stage))
    defect(template)
    found = denied(model(built, stage, template))
    assert {(RULE_SUFFIX.sub("", call.row), call.action) for call, _ in found} == expected, describe(found)
