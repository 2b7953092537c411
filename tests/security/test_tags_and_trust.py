"""Tags on every taggable resource, and the roles' trust limited to this account's SageMaker jobs and pipeline."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from constructs_lib.grants.trust import pipeline_source_arns
from stacks.training_pipeline_stack import PROJECT_TAG_VALUE
from tests.security.conftest import ALL_STAGES, BuiltApp
from tests.security.iam_evaluator import Decision, Request
from tests.security.stack_iam import StackIam


def is_taggable(resource_type: str) -> bool:
    """Whether CloudFormation's resource schema (bundled with cfn-lint) marks the type taggable."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CDK::Metadata":
        return False
    tagging = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema.get("tagging", {})
    return bool(tagging.get("taggable"))


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    tags = resource.get("Properties", {}).get("Tags", [])
    return dict(tags) if isinstance(tags, dict) else {tag["Key"]: tag["Value"] for tag in tags}


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_taggable_resource_carries_project_and_stage(built: BuiltApp, stage: str) -> None:
    resources = built.template(stage)["Resources"]
    taggable = {name: r for name, r in resources.items() if is_taggable(r["Type"])}
    assert {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::IAM::Role", "AWS::SageMaker::Pipeline"} <= {
        r["Type"] for r in taggable.values()
    }
    untagged = {
        f"{name} ({r['Type']})": tags_of(r)
        for name, r in taggable.items()
        if {"Project": PROJECT_TAG_VALUE, "Stage": stage}.items() - tags_of(r).items()
    }
    assert untagged == {}
    assert built.stacks[stage].tags.tag_values() == {"Project": PROJECT_TAG_VALUE, "Stage": stage}


def test_the_auto_delete_provider_is_tagged_too(built: BuiltApp) -> None:
    """CDK creates it as plain CfnResources, which Tags.of skips; the stack tags them itself."""
    resources = built.template("destroy")["Resources"]
    provider = [
        r for name, r in resources.items() if name.startswith("CustomS3AutoDeleteObjectsCustomResourceProvider")
    ]
    assert {r["Type"] for r in provider} == {"AWS::IAM::Role", "AWS::Lambda::Function"}
    assert all(tags_of(r) == {"Project": PROJECT_TAG_VALUE, "Stage": "destroy"} for r in provider)


def assume(stack: StackIam, role: str, source_arn: str, account: str | None = None) -> Decision:
    context = {"aws:SourceArn": source_arn, "aws:SourceAccount": account or stack.env.account}
    return stack.authorize(Request("sagemaker.amazonaws.com", "sts:AssumeRole", stack.role(role).arn, context))


@pytest.mark.parametrize("stage", ["dev", "gpu"])
def test_only_this_accounts_pipeline_jobs_can_assume_the_training_role(
    stack_models: dict[str, StackIam], stage: str
) -> None:
    stack = stack_models[stage]
    sagemaker = f"arn:aws:sagemaker:{stack.env.region}:{stack.env.account}"
    job = f"{sagemaker}:training-job/pipelines-cfvy1tjuxdq8-modeltraining-tavd6f3wdf"
    assert assume(stack, "TrainingRole", job) is Decision.ALLOW
    assert assume(stack, "TrainingRole", job, account="444455556666") is Decision.IMPLICIT_DENY
    assert assume(stack, "TrainingRole", f"{sagemaker}:training-job/someone-elses-job") is Decision.IMPLICIT_DENY
    assert assume(stack, "TrainingRole", f"{sagemaker}:processing-job/pipelines-x") is Decision.IMPLICIT_DENY


def test_only_this_pipelines_executions_can_assume_the_pipeline_role(stack_models: dict[str, StackIam]) -> None:
    """The pipeline's ARN and its executions' ARNs, not another pipeline's (a longer name included)."""
    stack = stack_models["prod"]
    pipeline = f"arn:aws:sagemaker:{stack.env.region}:{stack.env.account}:pipeline"
    assert assume(stack, "PipelineRole", f"{pipeline}/prod-pytorch-training/execution/x") is Decision.ALLOW
    assert assume(stack, "PipelineRole", f"{pipeline}/prod-pytorch-training") is Decision.ALLOW
    for other in ("dev-pytorch-training/execution/x", "prod-pytorch-training-canary", "prod-pytorch-training-2/x"):
        assert assume(stack, "PipelineRole", f"{pipeline}/{other}") is Decision.IMPLICIT_DENY, other
    training_job = f"arn:aws:sagemaker:{stack.env.region}:{stack.env.account}:training-job/pipelines-x"
    assert assume(stack, "PipelineRole", training_job) is Decision.IMPLICIT_DENY


def test_a_mixed_case_pipeline_name_is_trusted_as_written_and_lowercase() -> None:
    """ArnLike is case-sensitive and SageMaker lowercases most ARNs: both spellings, so neither locks out."""
    assert [arn.rsplit(":", 1)[1] for arn in pipeline_source_arns("Dev-Training")] == [
        "pipeline/Dev-Training",
        "pipeline/Dev-Training/*",
        "pipeline/dev-training",
        "pipeline/dev-training/*",
    ]
    assert len(pipeline_source_arns("dev-training")) == 2
