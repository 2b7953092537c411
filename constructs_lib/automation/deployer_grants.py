"""The deployer function's grants: act on its own endpoint, its own models and configurations, nothing else.

Every call ``runtime/endpoint_deployer`` makes, with the permission the SageMaker guide's "API Permissions
Reference" (https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html) and the Service
Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html)
list for it:

* DescribeModelPackage on ``model-package/<group>/<n>``: the version's group and approval status;
* CreateModel on ``model/<endpoint>-v*`` with ``iam:PassRole`` of the inference role (to SageMaker only);
* CreateEndpointConfig on ``endpoint-config/<endpoint>-v*``, only for the configured instance type
  (``sagemaker:InstanceTypes``);
* CreateEndpoint and UpdateEndpoint on ``endpoint/<endpoint>`` and ``endpoint-config/<endpoint>-v*``, with
  ``kms:CreateGrant`` (for AWS resources only) when the configuration carries the stage key;
* DescribeEndpoint, DescribeEndpointConfig, DescribeModel: which version the endpoint serves;
* ListEndpointConfigs (no resource-level permission): the newest configuration, to tell a rollback;
* ``sagemaker:AddTags`` on the same resources when requests carry tags (a dependent action of the creates);
* ``cloudwatch:DescribeAlarms`` on the rollback alarms (SageMaker guide, "Auto-Rollback Configuration and
  Monitoring", which does not say whether the caller's role or the model's needs it: both hold it);
* ``sns:Publish`` to the alerts topic, with ``kms:GenerateDataKey`` and ``kms:Decrypt`` for this topic's
  encryption context: "The publisher must have the kms:GenerateDataKey and kms:Decrypt permissions"
  (Amazon SNS Developer Guide, "Managing Amazon SNS encryption keys");
* its own log group's streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs_lib.automation.alerts import SNS_ENCRYPTION_CONTEXT
from constructs_lib.automation.deployment_grants import SAGEMAKER_PRINCIPAL, EndpointNames
from constructs_lib.automation.naming import arn
from constructs_lib.compliance import NagAcknowledgement, acknowledge_nag


@dataclass(frozen=True)
class DeployerAccess:
    """What the deployer's grants depend on."""

    names: EndpointNames
    inference_role: iam.IRole
    key: kms.IKey
    topic_arn: str
    owns_topic_key: bool
    encrypts_volume: bool
    instance_type: str
    tagged: bool
    log_group_name: str

    @property
    def log_group_arn(self) -> str:
        """The function's log group, in the form IAM policies use for log streams."""
        return arn("logs", f"log-group:{self.log_group_name}")


def _sagemaker_statements(access: DeployerAccess) -> list[iam.PolicyStatement]:
    names = access.names
    models, configs = names.sagemaker_arns("model", "*"), names.sagemaker_arns("endpoint-config", "*")
    endpoint = names.sagemaker_arns("endpoint")
    statements = [
        iam.PolicyStatement(
            sid="ReadApprovedVersions", actions=["sagemaker:DescribeModelPackage"], resources=names.package_arns
        ),
        iam.PolicyStatement(
            sid="CreateVersionModels", actions=["sagemaker:CreateModel", "sagemaker:DescribeModel"], resources=models
        ),
        iam.PolicyStatement(
            sid="PassInferenceRole",
            actions=["iam:PassRole"],
            resources=[access.inference_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER_PRINCIPAL}},
        ),
        iam.PolicyStatement(
            sid="CreateEndpointConfigs",
            actions=["sagemaker:CreateEndpointConfig"],
            resources=configs,
            conditions={"ForAllValues:StringEquals": {"sagemaker:InstanceTypes": [access.instance_type]}},
        ),
        iam.PolicyStatement(sid="ReadEndpointConfigs", actions=["sagemaker:DescribeEndpointConfig"], resources=configs),
        iam.PolicyStatement(
            sid="DeployTheEndpoint",
            actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"],
            resources=[*endpoint, *configs],
        ),
        iam.PolicyStatement(sid="ReadTheEndpoint", actions=["sagemaker:DescribeEndpoint"], resources=endpoint),
        iam.PolicyStatement(sid="FindNewestConfig", actions=["sagemaker:ListEndpointConfigs"], resources=["*"]),
    ]
    if access.tagged:
        statements.append(
            iam.PolicyStatement(
                sid="TagWhatItCreates", actions=["sagemaker:AddTags"], resources=[*endpoint, *configs, *models]
            )
        )
    return statements


def _other_statements(access: DeployerAccess) -> list[iam.PolicyStatement]:
    statements = [
        iam.PolicyStatement(
            sid="ReadRollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=access.names.alarm_arns
        ),
        iam.PolicyStatement(sid="ReportOutcomes", actions=["sns:Publish"], resources=[access.topic_arn]),
        iam.PolicyStatement(
            sid="OwnLogStreams",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{access.log_group_arn}:log-stream:*"],
        ),
    ]
    if access.owns_topic_key:
        statements.append(
            iam.PolicyStatement(
                sid="EncryptOutcomes",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[access.key.key_arn],
                conditions={"StringEquals": {SNS_ENCRYPTION_CONTEXT: access.topic_arn}},
            )
        )
    if access.encrypts_volume:
        statements.append(
            iam.PolicyStatement(
                sid="EncryptEndpointVolumes",
                actions=["kms:CreateGrant"],
                resources=[access.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
    return statements


def _spelling(name: str) -> str:
    """Which spelling of a name an acknowledged finding is about (each finding gets its own reason)."""
    return "the name as written" if name != name.lower() else "the name lowercased, as SageMaker writes ARNs"


def grant_deployer(role: iam.Role, access: DeployerAccess) -> None:
    """Add every statement the deployer needs to ``role`` and acknowledge its wildcards, finding by finding."""
    for statement in (*_sagemaker_statements(access), *_other_statements(access)):
        role.add_to_policy(statement)
    names = access.names
    sagemaker = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"
    prefixes = sorted({names.version_prefix, names.version_prefix.lower()})
    acknowledgements = [
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            "ListEndpointConfigs supports no resource-level permissions (SageMaker API Permissions Reference); the "
            "deployer lists configurations only to tell whether its newest one was rolled back.",
            ("Resource::*",),
        ),
        *(
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                f"The deployer names each {kind} {names.version_prefix}<version>-<time> when a version is approved; it "
                f"may create and read only those of endpoint {names.endpoint} ({_spelling(prefix)}).",
                (f"Resource::{sagemaker}:{kind}/{prefix}*",),
            )
            for kind in ("model", "endpoint-config")
            for prefix in prefixes
        ),
        *(
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                f"Versions of the {names.group} group are numbered by SageMaker at registration; the deployer only "
                f"describes them, to check the group and the approval status before deploying ({_spelling(group)}).",
                (f"Resource::{sagemaker}:model-package/{group}/*",),
            )
            for group in sorted({names.group, names.group.lower()})
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            "Lambda names the function's log streams at run time; the deployer writes only to its own log group.",
            (
                f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{access.log_group_name}:log-stream:*",
            ),
        ),
    ]
    acknowledge_nag(role.node.find_child("DefaultPolicy"), *acknowledgements)
