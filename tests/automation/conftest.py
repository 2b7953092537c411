"""A bare CDK stack holding only the automation constructs, built from library-typed inputs.

This is how another app (or the lead's stage L3 construct) uses them: names, a ``kms.Key``, a bucket, an
image URI and settings objects, with no ``StageConfig`` and no pipeline construct. One stack per session,
synthesized once; its template is resolved for a fake account (``tests/security/cfn_resolver.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs_lib.automation.alerts import PipelineAlerts
from constructs_lib.automation.deployment import ApprovedModelDeployment
from constructs_lib.automation.schedule import PipelineSchedule
from constructs_lib.config.automation_config import DeploymentSettings, NotificationSettings, ScheduleSettings
from tests.conftest import PROJECT_ROOT  # noqa: F401  # starts jsii on the pinned Node, as app.py does
from tests.security.cfn_resolver import CfnEnvironment, TemplateResolver

REGION = "us-east-1"
PIPELINE = "myPipeline-123"
"""The pipeline name of the SageMaker guide's example events, so they are used as documented."""
GROUP = "versionedmp-p-idy6c3e1fiqj"
"""The group of the guide's "Model package state change" example."""
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
DECLARED = [
    {"Name": "InputDataUri", "Type": "String", "DefaultValue": "s3://bucket/training-data"},
    {"Name": "QualityThreshold", "Type": "Float", "DefaultValue": 0.7},
    {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval",
     "EnumValues": ["PendingManualApproval"]},
]  # fmt: skip


@dataclass(frozen=True)
class Library:
    """The synthesized bare stack."""

    stack: cdk.Stack
    template: dict[str, Any]
    resolver: TemplateResolver

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str, logical_prefix: str) -> dict[str, Any]:
        (resource,) = [v for k, v in self.resources(resource_type).items() if k.startswith(logical_prefix)]
        return resource

    def resolved(self, value: Any) -> Any:
        return self.resolver.resolve(value)


def build_library_stack(outdir: Path) -> Library:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "Library", env=cdk.Environment(region=REGION))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Artifacts", encryption=s3.BucketEncryption.KMS, encryption_key=key)
    PipelineSchedule(
        stack,
        "Schedule",
        pipeline_name=PIPELINE,
        settings=ScheduleSettings(expression="cron(0 3 * * ? *)", parameters={"QualityThreshold": 0.8}),
        declared_parameters=DECLARED,
    )
    alerts = PipelineAlerts(
        stack,
        "Alerts",
        pipeline_name=PIPELINE,
        key=key,
        settings=NotificationSettings(emails=["ops@example.com"]),
        follow_command="make follow STAGE=dev EXECUTION=",
    )
    ApprovedModelDeployment(
        stack,
        "Deployment",
        endpoint_name="dev-endpoint",
        settings=DeploymentSettings(instance_type="ml.m5.large"),
        model_package_group_name=GROUP,
        key=key,
        artifacts_bucket=bucket,
        artifacts_prefix="training-output",
        inference_image_uri=IMAGE,
        topic=alerts.topic,
        owns_topic_key=True,
        deploy_hint="make deploy-model STAGE=dev VERSION=",
    )
    app.synth()
    template = json.loads((outdir / "Library.template.json").read_text())
    return Library(stack, template, TemplateResolver(template, CfnEnvironment(REGION)))


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    return build_library_stack(tmp_path_factory.mktemp("library"))
