"""The two roles of deployment on approval, and exactly what each may do.

* The **inference role** is the model's execution role (CreateModel ``ExecutionRoleArn``): SageMaker
  assumes it to pull the inference image and download the registered ``model.tar.gz`` onto the endpoint's
  instances, and to write the container's logs and metrics ("How to use SageMaker AI execution roles",
  CreateModel API: Execution Role Permissions, https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html).
* The **deployer role** is the Lambda function's: it reads the approved version, creates the model and the
  endpoint configuration, creates or updates its one endpoint, and reports the outcome. The calls and the
  permission each needs are in the SageMaker guide's "API Permissions Reference"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html): CreateModel needs
  ``sagemaker:CreateModel`` and ``iam:PassRole``; CreateEndpoint ``sagemaker:CreateEndpoint`` on the endpoint
  and the endpoint config, and ``kms:CreateGrant`` "required only if the associated EndPointConfig has a
  KmsKeyId specified"; CreateEndpointConfig and UpdateEndpoint their own action.

Resources follow the Service Authorization Reference; SageMaker writes resource names in ARNs in lowercase
and IAM matches them case-sensitively, so names are granted as written and lowercased.
``tests/security/automation_calls.py`` replays every call against these statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs_lib.automation.naming import arn, both_spellings
from constructs_lib.compliance import NagAcknowledgement, acknowledge_nag, nag_reference
from constructs_lib.config.image_catalog import parse_ecr_image_uri
from constructs_lib.grants.container_role import image_pull_statements, log_and_metric_statements

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
ENDPOINT_LOG_GROUP = "/aws/sagemaker/Endpoints"
ENDPOINT_METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"
"""Endpoint instances publish their CPU, memory and disk metrics here ("Amazon SageMaker AI metrics in
Amazon CloudWatch", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html)."""
DATA_CAPTURE_PREFIX = "data-capture"


@dataclass(frozen=True)
class EndpointNames:
    """The endpoint and the names of what the deployer creates for it."""

    endpoint: str
    group: str
    alarm_names: Sequence[str]

    @property
    def version_prefix(self) -> str:
        """Models and endpoint configurations are ``<endpoint>-v<version>-<yyyymmddHHMMSS>``."""
        return f"{self.endpoint}-v"

    def sagemaker_arns(self, resource_type: str, suffix: str = "") -> list[str]:
        """``<type>/<name><suffix>`` ARNs for the name as written and lowercased."""
        base = self.version_prefix if resource_type in ("model", "endpoint-config") else self.endpoint
        return [arn("sagemaker", f"{resource_type}/{name}{suffix}") for name in both_spellings(base)]

    @property
    def package_arns(self) -> list[str]:
        """The group's versions, ``model-package/<group>/<n>``."""
        return [arn("sagemaker", f"model-package/{name}/*") for name in both_spellings(self.group)]

    @property
    def alarm_arns(self) -> list[str]:
        return [arn("cloudwatch", f"alarm:{name}") for name in self.alarm_names]


def inference_trust() -> iam.ServicePrincipal:
    """SageMaker of this account and region only.

    The confused-deputy guide's general example conditions on ``aws:SourceArn`` like
    ``arn:partition:sagemaker:region:account:*`` and on ``aws:SourceAccount``
    (https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html); it documents
    no narrower source ARN for hosting, so the role does not guess the resource type SageMaker sends.
    """
    return iam.ServicePrincipal(
        SAGEMAKER_PRINCIPAL,
        conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": arn("sagemaker", "*")},
        },
    )


def grant_inference(
    role: iam.Role,
    *,
    names: EndpointNames,
    artifacts_bucket: s3.IBucket,
    artifacts_prefix: str,
    key: kms.IKey,
    image_uri: str,
    data_capture: bool,
) -> None:
    """What the endpoint needs: the registered artifacts, the inference image, its logs and metrics."""
    image = parse_ecr_image_uri(image_uri)
    if image is None:
        raise ValueError(f"inference_image_uri {image_uri!r} is not an Amazon ECR image URI")
    s3_via = {"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}}
    log_group = arn("logs", f"log-group:{ENDPOINT_LOG_GROUP}/{names.endpoint}")
    statements = [
        # model.tar.gz of a registered version: <prefix>/<training job>/output/model.tar.gz, read through
        # S3 under the stage key (Amazon S3 User Guide, SSE-KMS: reading needs kms:Decrypt).
        iam.PolicyStatement(
            sid="ReadRegisteredModels",
            actions=["s3:GetObject"],
            resources=[artifacts_bucket.arn_for_objects(f"{artifacts_prefix}/*/output/model.tar.gz")],
        ),
        iam.PolicyStatement(
            sid="DecryptModelsThroughS3", actions=["kms:Decrypt"], resources=[key.key_arn], conditions=s3_via
        ),
        *image_pull_statements("PullInferenceImage", [image.repository_arn(Aws.PARTITION)]),
        *log_and_metric_statements("Endpoint", log_group, "*", ENDPOINT_METRICS_NAMESPACE),
        # "Ensure that your IAM execution role has permission to perform the cloudwatch:DescribeAlarms action
        # on the auto-rollback alarms you specify" (SageMaker guide, Auto-Rollback Configuration and Monitoring).
        iam.PolicyStatement(
            sid="ReadRollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=names.alarm_arns
        ),
    ]
    if data_capture:
        statements += [
            iam.PolicyStatement(
                sid="WriteDataCapture",
                actions=["s3:PutObject"],
                resources=[artifacts_bucket.arn_for_objects(f"{DATA_CAPTURE_PREFIX}/{names.endpoint}/*")],
            ),
            iam.PolicyStatement(
                sid="EncryptDataCapture", actions=["kms:GenerateDataKey"], resources=[key.key_arn], conditions=s3_via
            ),
        ]
    for statement in statements:
        role.add_to_policy(statement)
    acknowledgements = [
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"SageMaker downloads the registered version's model.tar.gz, which the pipeline's training jobs write to "
            f"{artifacts_prefix}/<job name>/output/ with job names chosen at run time; read-only, that file only.",
            (f"Resource::{nag_reference(artifacts_bucket, 'Arn')}/{artifacts_prefix}/*/output/model.tar.gz",),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level permissions; "
            f"PutMetricData is limited to the {ENDPOINT_METRICS_NAMESPACE} namespace by condition.",
            ("Resource::*",),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"The trailing :* is the log-group ARN form CloudWatch Logs requires in IAM policies; it names the "
            f"endpoint's one log group, {ENDPOINT_LOG_GROUP}/{names.endpoint}.",
            (
                f"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{ENDPOINT_LOG_GROUP}/{names.endpoint}:*",
            ),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            "SageMaker names the endpoint's log streams <variant>/<instance id> at run time, in the endpoint's own "
            "log group only.",
            (
                "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                f"{ENDPOINT_LOG_GROUP}/{names.endpoint}:log-stream:*",
            ),
        ),
    ]
    if data_capture:
        acknowledgements.append(
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                "Data capture writes one object per captured batch with keys SageMaker chooses at run time, under "
                f"{DATA_CAPTURE_PREFIX}/{names.endpoint}/ only; write-only.",
                (f"Resource::{nag_reference(artifacts_bucket, 'Arn')}/{DATA_CAPTURE_PREFIX}/{names.endpoint}/*",),
            )
        )
    acknowledge_nag(role.node.find_child("DefaultPolicy"), *acknowledgements)
