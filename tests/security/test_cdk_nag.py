"""cdk-nag (AwsSolutions): no unacknowledged finding on any stage, and every acknowledgement is earned.

cdk-nag 3 runs as a policy-validation plugin and no longer reports through ``Annotations``;
its documented entry point for tests is ``NagPack.validate_scope(scope)``, which returns the
findings (errors and warnings) left after ``Validations.of(...).acknowledge(...)``.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

import app as app_module
from constructs_lib.compliance import MIN_REASON_LENGTH
from tests.security.conftest import ALL_STAGES, BuiltApp, nag_acknowledgements, nag_findings


def _describe(findings: list) -> str:
    return "\n".join(f"  {f.severity} {f.rule} at {f.path}" for f in findings)


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_no_unacknowledged_findings(built: BuiltApp, stage: str) -> None:
    findings = nag_findings(built.stacks[stage])
    assert findings == [], f"unacknowledged cdk-nag findings on {stage}:\n{_describe(findings)}"


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_each_acknowledgement_matches_a_reported_finding(
    built: BuiltApp, built_unacknowledged: BuiltApp, stage: str
) -> None:
    """Without acknowledgements cdk-nag reports exactly the acknowledged findings: none stale, none missing."""
    reported = {(f.rule, f.path) for f in nag_findings(built_unacknowledged.stacks[stage])}
    acknowledged = set(nag_acknowledgements(built.stacks[stage]))
    assert reported, f"{stage}: expected the wildcard findings the stack acknowledges"
    assert sorted(acknowledged - reported) == [], "acknowledged, but cdk-nag reports no such finding (stale)"
    assert sorted(reported - acknowledged) == [], "reported, but not acknowledged"


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_acknowledgements_have_specific_reasons_and_an_audit_trail(built: BuiltApp, stage: str) -> None:
    acknowledgements = nag_acknowledgements(built.stacks[stage])
    assert acknowledgements, f"{stage}: no acknowledgements recorded"
    for (rule, path), reason in acknowledgements.items():
        assert rule.startswith("AwsSolutions-IAM5["), f"only IAM5 wildcard findings are acknowledged, got {rule}"
        assert len(reason) >= MIN_REASON_LENGTH, f"{rule} at {path}: reason too vague: {reason!r}"
    assert len(set(acknowledgements.values())) == len(acknowledgements), "each finding needs its own reason"
    # The same acknowledgements are written into the template as v2-style cdk_nag metadata.
    stack = built.stacks[stage]
    paths = {
        stack.resolve(node.logical_id): node.node.path
        for node in stack.node.find_all()
        if isinstance(node, cdk.CfnResource)
    }
    in_template = {
        (f"{rule['id']}[{finding}]", paths[logical_id], rule["reason"])
        for logical_id, resource in built.template(stage)["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        for finding in rule.get("applies_to", [])
    }
    assert in_template == {(rule, path, reason) for (rule, path), reason in acknowledgements.items()}


def test_vpc_stage_scopes_and_acknowledges_network_interfaces(built: BuiltApp) -> None:
    paths = {rule for rule, _path in nag_acknowledgements(built.stacks["vpc"])}
    interfaces = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]"
    )
    assert interfaces in paths
    assert interfaces not in {rule for rule, _path in nag_acknowledgements(built.stacks["dev"])}


def test_destroy_stage_checks_the_auto_delete_custom_resource(built: BuiltApp) -> None:
    """The stage really contains CDK's auto-delete Lambda, so the zero-findings test covers it."""
    types = {r["Type"] for r in built.template("destroy")["Resources"].values()}
    assert {"Custom::S3AutoDeleteObjects", "AWS::Lambda::Function"} <= types
    assert "Custom::S3AutoDeleteObjects" not in {r["Type"] for r in built.template("dev")["Resources"].values()}


def test_a_broken_construct_is_reported() -> None:
    """The check can fail: an insecure bucket and a wildcard policy are reported."""
    app = cdk.App()
    stack = cdk.Stack(app, "Broken", env=cdk.Environment(region="us-east-1"))
    s3.CfnBucket(stack, "PlainBucket")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSageMakerFullAccess"))
    rules = {(f.rule, f.severity) for f in nag_findings(stack)}
    assert {
        ("AwsSolutions-S1", "error"),
        ("AwsSolutions-S10", "error"),
        ("AwsSolutions-IAM5[Action::s3:*]", "error"),
        ("AwsSolutions-IAM5[Resource::*]", "error"),
        ("AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSageMakerFullAccess]", "error"),
    } <= rules


def test_a_new_wildcard_on_an_acknowledged_policy_is_reported(tmp_path: Path) -> None:
    """Acknowledgements name exact findings: a new wildcard on the training role's policy is still reported."""
    app = app_module.create_app(context={"stage": "dev"}, outdir=str(tmp_path))
    stack = app.node.find_child("SageMakerTraining-dev")
    stack.training_pipeline.training_role.add_to_policy(
        iam.PolicyStatement(actions=["s3:*"], resources=[stack.training_pipeline.artifacts_bucket.arn_for_objects("*")])
    )
    findings = {f.rule for f in nag_findings(stack)}
    assert "AwsSolutions-IAM5[Action::s3:*]" in findings
    assert any(rule.startswith("AwsSolutions-IAM5[Resource::<StorageArtifactsBucket") for rule in findings)
    assert "AwsSolutions-IAM5[Resource::*]" not in findings  # still acknowledged
