"""The permission matrix: every call one pipeline execution makes, evaluated against the role that makes it.

The calls come from each stage's rendered definition (``tests/security/pipeline_calls.py``),
the decisions from IAM's rules (``tests/security/iam_evaluator.py``) applied to the synthesized
policies, bucket policies, key policies and trust policies (``tests/security/stack_iam.py``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import Counter
from typing import Any

import pytest

from tests.security.cfn_resolver import CfnEnvironment
from tests.security.conftest import ALL_STAGES, BuiltApp
from tests.security.execution_model import Call, Execution, UnmodelledError, all_steps
from tests.security.iam_evaluator import Decision
from tests.security.pipeline_calls import execution_calls
from tests.security.stack_iam import StackIam, stack_iam

WITH_VOLUME_KEY = {"dev", "destroy", "vpc", "spot", "gpu"}
"""Stages on EBS-backed instance types; prod's ml.g5 trains on NVMe instance storage (no volume key)."""
INSTANCES = {"prod": 2, "gpu": 2}
EVERY_RUN = {
    "sts:AssumeRole",
    "sagemaker:CreateTrainingJob",
    "iam:PassRole",
    "sagemaker:AddTags",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopTrainingJob",
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:Encrypt",
    "logs:CreateLogGroup",
    "logs:DescribeLogStreams",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
}


def denials(stack: StackIam) -> list[tuple[Call, Decision]]:
    """Every call of one execution that IAM would not allow, with IAM's decision."""
    decided = [(call, stack.authorize(call.request())) for call in execution_calls(Execution(stack))]
    return [(call, decision) for call, decision in decided if decision is not Decision.ALLOW]


def describe(denied: list[tuple[Call, Decision]]) -> str:
    """One line per denied call: the decision, the row, and the AWS guide that says the call happens."""
    return "\n".join(f"{decision.value}: {call}" for call, decision in denied)


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_call_of_an_execution_is_allowed(stack_models: dict[str, StackIam], stage: str) -> None:
    denied = denials(stack_models[stage])
    assert denied == [], describe(denied)


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_the_rows_follow_the_stage(stack_models: dict[str, StackIam], stage: str) -> None:
    """The matrix is not vacuous: each stage's own features produce their rows."""
    calls = execution_calls(Execution(stack_models[stage]))
    actions = Counter(call.action for call in calls)
    assert set(actions) >= EVERY_RUN
    assert ("kms:CreateGrant" in actions) is (stage in WITH_VOLUME_KEY)
    assert actions["logs:PutLogEvents"] == INSTANCES.get(stage, 1)
    assert ("ec2:CreateNetworkInterface" in actions) is (stage == "vpc")
    channels = {call.row.split(":")[1].strip() for call in calls if call.action == "s3:ListBucket"}
    assert channels == {"channel train", "channel val", "channel test", "checkpoint sync"}


def _policy_of(template: dict[str, Any], role_prefix: str) -> dict[str, Any]:
    (policy,) = [
        resource["Properties"]["PolicyDocument"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and resource["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    return policy


def _drop_volume_grant(template: dict[str, Any]) -> dict[str, Any]:
    policy = _policy_of(template, "TrainingRole")
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "EncryptTrainingVolume"]
    return template


def _log_group_without_star(template: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(template).replace(
        ":log-group:/aws/sagemaker/TrainingJobs:*", ":log-group:/aws/sagemaker/TrainingJobs"
    )
    return dict(json.loads(text))


def _trust_for_another_account(template: dict[str, Any]) -> dict[str, Any]:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role" and "Condition" in json.dumps(resource["Properties"]):
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                statement["Condition"]["StringEquals"]["aws:SourceAccount"] = "444455556666"
    return template


@pytest.mark.parametrize(
    ("defect", "stage", "denied_actions"),
    [
        pytest.param(_drop_volume_grant, "dev", ["kms:CreateGrant"], id="volume-key-grant-only-on-pipeline-role"),
        pytest.param(_drop_volume_grant, "gpu", ["kms:CreateGrant"], id="volume-key-grant-missing-on-gpu"),
        pytest.param(
            _log_group_without_star, "dev", ["logs:CreateLogGroup", "logs:DescribeLogStreams"], id="log-group-arn"
        ),
        pytest.param(_trust_for_another_account, "prod", ["sts:AssumeRole"] * 2, id="trust-of-another-account"),
    ],
)
def test_a_reintroduced_defect_fails_the_matrix(
    built: BuiltApp, defect: Any, stage: str, denied_actions: list[str]
) -> None:
    stack = stack_iam(defect(copy.deepcopy(built.template(stage))), CfnEnvironment(built.stacks[stage].region))
    denied = denials(stack)
    assert [call.action for call, _ in denied] == denied_actions, describe(denied)


def _with_parameterized_channels(stack: StackIam, input_uri: str) -> StackIam:
    """The stage's definition with channels as ``Std:Join`` over an ``InputDataUri`` parameter."""
    definition = copy.deepcopy(stack.definition)
    definition["Parameters"] = [{"Name": "InputDataUri", "Type": "String", "DefaultValue": input_uri}]
    (training,) = [step for step in all_steps(definition) if step["Type"] == "Training"]
    for channel in training["Arguments"]["InputDataConfig"]:
        values = [{"Get": "Parameters.InputDataUri"}, f"{channel['ChannelName']}/"]
        channel["DataSource"]["S3DataSource"]["S3Uri"] = {"Std:Join": {"On": "/", "Values": values}}
    return dataclasses.replace(stack, definition=definition)


def test_channel_rows_evaluate_parameter_joins(stack_models: dict[str, StackIam]) -> None:
    """Channel URIs joined over a parameter are read at the parameter's default; outside the prefix, denied."""
    dev = stack_models["dev"]
    (data_bucket,) = [name for name in dev.bucket_keys if name.startswith("storagedatabucket")]
    inside = _with_parameterized_channels(dev, f"s3://{data_bucket}/training-data")
    prefixes = [c.context["s3:prefix"] for c in execution_calls(Execution(inside)) if c.row.endswith("train: list")]
    assert prefixes == ["training-data/train/"]
    assert denials(inside) == []
    outside = denials(_with_parameterized_channels(dev, f"s3://{data_bucket}/elsewhere"))
    assert sorted(call.action for call, _ in outside) == ["s3:GetObject"] * 3 + ["s3:ListBucket"] * 3, describe(outside)


def test_a_step_type_without_rows_fails_the_matrix(stack_models: dict[str, StackIam]) -> None:
    definition = copy.deepcopy(stack_models["dev"].definition)
    definition["Steps"].append({"Name": "Evaluate", "Type": "Processing", "Arguments": {}})
    with pytest.raises(UnmodelledError, match="step Evaluate has Type 'Processing', which has no rows in STEP_ROWS"):
        execution_calls(Execution(dataclasses.replace(stack_models["dev"], definition=definition)))


def test_a_training_argument_without_rows_fails_the_matrix(stack_models: dict[str, StackIam]) -> None:
    definition = copy.deepcopy(stack_models["dev"].definition)
    definition["Steps"][0]["Arguments"]["DebugHookConfig"] = {"S3OutputPath": "s3://bucket/debug"}
    with pytest.raises(UnmodelledError, match=r"Training arguments \['DebugHookConfig'\] have no rows"):
        execution_calls(Execution(dataclasses.replace(stack_models["dev"], definition=definition)))
