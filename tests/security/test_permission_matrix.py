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
from collections.abc import Callable
from typing import Any

import pytest

from constructs_lib.config.stage_config import StageConfig
from tests.security.cfn_resolver import CfnEnvironment
from tests.security.conftest import ALL_STAGES, BuiltApp
from tests.security.execution_model import Execution, UnmodelledError, all_steps
from tests.security.iam_evaluator import Decision
from tests.security.pipeline_calls import denials, describe, execution_calls
from tests.security.stack_iam import StackIam, stack_iam

WITH_VOLUME_KEY = {"dev", "destroy", "vpc", "spot", "gpu", "TeamA", "auto", "AutoNvme"}
"""Stages on EBS-backed instance types; prod's ml.g5 trains on NVMe instance storage (no volume key)."""
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
    "sagemaker:CreateModelPackage",
    "sagemaker:DescribeModelPackage",
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
}


@pytest.mark.parametrize("as_written", [False, True], ids=["arn-names-lowercase", "arn-names-as-written"])
@pytest.mark.parametrize("lowercase_job_names", [False, True], ids=["job-name-as-step", "job-name-lowercase"])
@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_call_of_an_execution_is_allowed(
    stack_models: dict[str, StackIam], stage: str, lowercase_job_names: bool, as_written: bool
) -> None:
    execution = Execution(
        stack_models[stage], lowercase_job_names=lowercase_job_names, names_in_arns_as_written=as_written
    )
    denied = denials(execution)
    assert denied == [], describe(denied)


def test_mixed_case_names_are_granted_in_both_spellings(stack_models: dict[str, StackIam]) -> None:
    """Negative case for the test above: with the group granted lowercase only, as before, IAM denies the
    registration of TeamA's versions when SageMaker writes the group's name as written in the ARN."""
    stack = stack_models["TeamA"]
    as_written = Execution(stack, names_in_arns_as_written=True)
    assert denials(as_written) == []
    rows = [c for c in execution_calls(as_written) if c.action == "sagemaker:CreateModelPackage"]
    assert rows[0].resource.endswith(":model-package-group/TeamA-pytorch-models")
    policies = copy.deepcopy(stack.roles[stack.pipeline_role_arn].identity_policies)
    for policy in policies:
        for statement in policy["Statement"]:
            if statement.get("Sid") in ("RegisterModelVersions", "DescribeModelVersions"):
                statement["Resource"] = [arn for arn in statement["Resource"] if arn == arn.lower()]
    role = dataclasses.replace(stack.roles[stack.pipeline_role_arn], identity_policies=policies)
    lowercase_only = dataclasses.replace(stack, roles={**stack.roles, stack.pipeline_role_arn: role})
    denied = denials(Execution(lowercase_only, names_in_arns_as_written=True))
    assert [call.action for call, _ in denied] == ["sagemaker:CreateModelPackage"] * 2 + [
        "sagemaker:DescribeModelPackage"
    ], describe(denied)
    assert denials(Execution(lowercase_only)) == []


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_the_rows_follow_the_stage(
    stack_models: dict[str, StackIam], stage_configs: dict[str, StageConfig], stage: str
) -> None:
    """The matrix is not vacuous: each stage's own features, as declared in its config, produce their rows."""
    config = stage_configs[stage]
    calls = execution_calls(Execution(stack_models[stage]))
    actions = Counter(call.action for call in calls)
    assert set(actions) >= EVERY_RUN
    assert ("kms:CreateGrant" in actions) is (stage in WITH_VOLUME_KEY)
    assert actions["logs:PutLogEvents"] == config.model.instance_count
    assert ("ec2:CreateNetworkInterface" in actions) is bool(config.network.subnet_ids)
    channels = {call.row.split(":")[1].strip() for call in calls if call.action == "s3:ListBucket"}
    assert channels == {f"channel {channel}" for channel in config.channels} | {"checkpoint sync"}
    registration = [call for call in calls if call.action == "sagemaker:CreateModelPackage"]
    group = config.resolved_model_package_group_name.lower()  # SageMaker writes ARNs in lowercase
    assert [call.resource.split(":")[-1] for call in registration] == [
        f"model-package-group/{group}",
        f"model-package/{group}/1",
    ]
    assert {call.context["sagemaker:ModelApprovalStatus"] for call in registration} == {config.registry.approval_status}


def test_a_stage_without_the_test_channel_has_no_test_rows(
    stack_models: dict[str, StackIam], stage_configs: dict[str, StageConfig]
) -> None:
    """``vpc`` declares train and val only: nothing reads ``test/``, and the gate is the selected val AUROC."""
    assert stage_configs["vpc"].channels == ["train", "val"]
    calls = execution_calls(Execution(stack_models["vpc"]))
    assert [call for call in calls if "test" in call.row or "/test/" in call.resource] == []
    (register,) = [call for call in calls if call.row.endswith("create the version")]
    assert register.context["sagemaker:CustomerMetadataProperties/QualityGateMetric"] == "Selected Validation AUC ROC"


def _policy_of(template: dict[str, Any], role_prefix: str) -> dict[str, Any]:
    policies: list[dict[str, Any]] = [
        resource["Properties"]["PolicyDocument"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and resource["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    (policy,) = policies
    return policy


def _statement_of(template: dict[str, Any], role_prefix: str, sid: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = _policy_of(template, role_prefix)["Statement"]
    (statement,) = [s for s in statements if s.get("Sid") == sid]
    return statement


def _without(role_prefix: str, sid: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A defect: the role's statement ``sid`` is gone."""

    def defect(template: dict[str, Any]) -> dict[str, Any]:
        policy = _policy_of(template, role_prefix)
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
        return template

    return defect


def _log_group_without_star(template: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(template).replace(
        ":log-group:/aws/sagemaker/TrainingJobs:*", ":log-group:/aws/sagemaker/TrainingJobs"
    )
    return dict(json.loads(text))


def _trust_conditions(template: dict[str, Any], role_prefix: str = "") -> list[dict[str, Any]]:
    return [
        statement["Condition"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and logical_id.startswith(role_prefix)
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        if "Condition" in statement
    ]


def _trust_for_another_account(template: dict[str, Any]) -> dict[str, Any]:
    for condition in _trust_conditions(template):
        condition["StringEquals"]["aws:SourceAccount"] = "444455556666"
    return template


def _pipeline_trust_for_executions_only(template: dict[str, Any]) -> dict[str, Any]:
    """The trust before issue 3 of this branch: ``pipeline/<name>/*`` without the bare pipeline ARN."""
    (condition,) = _trust_conditions(template, "PipelineRole")
    arns = condition["ArnLike"]["aws:SourceArn"]
    condition["ArnLike"]["aws:SourceArn"] = [arn for arn in arns if "/*" in json.dumps(arn)]
    return template


def _registration_on_the_group_only(template: dict[str, Any]) -> dict[str, Any]:
    statement = _statement_of(template, "PipelineRole", "RegisterModelVersions")
    statement["Resource"] = [arn for arn in statement["Resource"] if ":model-package/" not in json.dumps(arn)]
    return template


def _assumes_prod_pipeline_role(source: str) -> tuple[str, str]:
    return (f"execution: SageMaker assumes the pipeline role ({source}, prod-pytorch-training)", "sts:AssumeRole")


VOLUME_KEY = ("ModelTraining: volume key", "kms:CreateGrant")
LOG_GROUP = [("ModelTraining: log group", f"logs:{action}") for action in ("CreateLogGroup", "DescribeLogStreams")]
ASSUMES_TRAINING_ROLE = ("ModelTraining: SageMaker assumes the job's role", "sts:AssumeRole")
REGISTER_IN_GROUP = ("RegisterModel-RegisterModel: register in the group", "sagemaker:CreateModelPackage")
CREATE_VERSION = ("RegisterModel-RegisterModel: create the version", "sagemaker:CreateModelPackage")
READ_VERSION = ("RegisterModel-RegisterModel: read the version back", "sagemaker:DescribeModelPackage")
DEFECTS = [
    pytest.param(_without("TrainingRole", "EncryptTrainingVolume"), "dev", [VOLUME_KEY], id="volume-key-grant-missing"),
    pytest.param(_without("TrainingRole", "EncryptTrainingVolume"), "gpu", [VOLUME_KEY], id="volume-key-grant-on-gpu"),
    pytest.param(_log_group_without_star, "dev", LOG_GROUP, id="log-group-arn"),
    pytest.param(
        _trust_for_another_account,
        "prod",
        [_assumes_prod_pipeline_role("execution"), _assumes_prod_pipeline_role("pipeline"), ASSUMES_TRAINING_ROLE],
        id="trust-of-another-account",
    ),
    pytest.param(
        _pipeline_trust_for_executions_only,
        "prod",
        [_assumes_prod_pipeline_role("pipeline")],
        id="pipeline-trust-without-the-pipeline-arn",
    ),
    pytest.param(
        _without("PipelineRole", "RegisterModelVersions"),
        "dev",
        [REGISTER_IN_GROUP, CREATE_VERSION],
        id="no-registration-grant",
    ),
    pytest.param(_registration_on_the_group_only, "dev", [CREATE_VERSION], id="registration-on-the-group-only"),
    pytest.param(_without("PipelineRole", "DescribeModelVersions"), "dev", [READ_VERSION], id="version-not-readable"),
]
"""(defect, stage, the rows IAM must deny, in matrix order): each defect fails on its own rows only."""


@pytest.mark.parametrize(("defect", "stage", "denied_rows"), DEFECTS)
def test_a_reintroduced_defect_fails_the_matrix(
    built: BuiltApp, defect: Callable[[dict[str, Any]], dict[str, Any]], stage: str, denied_rows: list[tuple[str, str]]
) -> None:
    """Each defect is denied on exactly its own rows, by IAM's rules (not by an unmodelled definition)."""
    stack = stack_iam(defect(copy.deepcopy(built.template(stage))), CfnEnvironment(built.stacks[stage].region))
    denied = denials(Execution(stack))
    assert [line.split(" on ")[0] for line in describe(denied).splitlines()] == [
        f"{Decision.IMPLICIT_DENY.value}: {row}: {action}" for row, action in denied_rows
    ], describe(denied)


def test_channel_rows_evaluate_the_input_data_uri_parameter(stack_models: dict[str, StackIam]) -> None:
    """Channels are ``Std:Join`` over ``InputDataUri``: read at the value the run passes; outside the prefix, denied."""
    dev = stack_models["dev"]
    (training,) = [step for step in all_steps(dev.definition) if step["Type"] == "Training"]
    uris = [c["DataSource"]["S3DataSource"]["S3Uri"] for c in training["Arguments"]["InputDataConfig"]]
    assert all(uri["Std:Join"]["Values"][0] == {"Get": "Parameters.InputDataUri"} for uri in uris)
    (data_bucket,) = [name for name in dev.bucket_keys if name.startswith("storagedatabucket")]
    inside = Execution(dev, overrides={"InputDataUri": f"s3://{data_bucket}/training-data/2024"})
    prefixes = [c.context["s3:prefix"] for c in execution_calls(inside) if c.row.endswith("train: list")]
    assert prefixes == ["training-data/2024/train/"]
    assert denials(inside) == []
    outside = denials(Execution(dev, overrides={"InputDataUri": f"s3://{data_bucket}/elsewhere"}))
    assert sorted(call.action for call, _ in outside) == ["s3:GetObject"] * 3 + ["s3:ListBucket"] * 3, describe(outside)


def test_a_parameter_the_definition_lacks_fails_the_matrix(stack_models: dict[str, StackIam]) -> None:
    with pytest.raises(UnmodelledError, match=r"parameters \['InstanceType'\] are not in the definition"):
        execution_calls(Execution(stack_models["dev"], overrides={"InstanceType": "ml.p4d.24xlarge"}))


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
