"""The training role's grants: what one SageMaker training job of the pipeline calls, and nothing else.

Each statement names its actions and is scoped to prefixes and ARNs. CDK's ``grant_read``/
``grant_read_write``/``grant_encrypt_decrypt`` would add wildcard actions (``s3:GetObject*``,
``s3:List*``, ``kms:ReEncrypt*`` ...) and the whole asset bucket, so they are not used.
The guide behind each statement is cited next to it; ``tests/security/test_permission_matrix.py``
replays every call a pipeline execution makes against these statements.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs_lib.code_bundle import CODE_PREFIX
from constructs_lib.compliance import NagAcknowledgement, acknowledge_nag, nag_arn
from constructs_lib.config.stage_config import NetworkSettings
from constructs_lib.grants.container_role import image_pull_statements, log_and_metric_statements
from constructs_lib.grants.definition_facts import encrypts_training_volume, training_image_repositories
from constructs_lib.grants.trust import PIPELINE_JOB_PREFIX
from constructs_lib.pseudo_parameters import account_id, partition, region
from constructs_lib.sagemaker_pipeline import SageMakerPipeline
from constructs_lib.secure_storage import OUTPUT_PREFIX, SecureTrainingStorage

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
SAGEMAKER_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"


def grant_training_role(
    role: iam.Role,
    *,
    storage: SecureTrainingStorage,
    input_prefix: str,
    pipeline: SageMakerPipeline,
    network: NetworkSettings,
) -> None:
    """Add every statement the pipeline's training jobs need to ``role`` and acknowledge its wildcards.

    Args:
        role: the training jobs' role.
        storage: the stage's key, the data bucket (the stage's own or an imported one, with its key) and
            the artifacts bucket.
        input_prefix: the data bucket prefix holding the channel folders: the only part of it readable.
        pipeline: the pipeline whose rendered definition sizes the KMS and ECR grants.
        network: the job's VPC settings (ENI permissions when it has subnets).
    """
    for statement in (
        *_s3_statements(storage, input_prefix, pipeline),
        *_kms_statements(storage, pipeline),
        *_log_and_metric_statements(),
        *_image_statements(pipeline),
        *(_vpc_statements(network) if network.subnet_ids else ()),
    ):
        role.add_to_policy(statement)
    _acknowledge_wildcards(role, storage, input_prefix, network)


def _s3_statements(
    storage: SecureTrainingStorage, prefix: str, pipeline: SageMakerPipeline
) -> list[iam.PolicyStatement]:
    """Channels under the input prefix; output, profiler and checkpoints under the output prefix; the code bundles.

    Every bundle ever published stays readable (``code/*`` of the stage's own bucket, see ``code_bundle.py``):
    a step retried after a redeploy runs the old definition, which names the old bundle.
    """
    data, artifacts = storage.data_bucket, storage.artifacts_bucket
    return [
        iam.PolicyStatement(
            sid="ListInputPrefix",
            actions=["s3:ListBucket"],
            resources=[data.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        ),
        iam.PolicyStatement(sid="ReadInput", actions=["s3:GetObject"], resources=[data.arn_for_objects(f"{prefix}/*")]),
        iam.PolicyStatement(
            sid="ListTrainingOutput",
            actions=["s3:ListBucket"],
            resources=[artifacts.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [OUTPUT_PREFIX, f"{OUTPUT_PREFIX}/*"]}},
        ),
        iam.PolicyStatement(
            sid="ReadWriteTrainingOutput",
            actions=["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
            resources=[artifacts.arn_for_objects(f"{OUTPUT_PREFIX}/*")],
        ),
        iam.PolicyStatement(
            sid="ReadCodeBundle",
            actions=["s3:GetObject"],
            resources=[artifacts.arn_for_objects(f"{CODE_PREFIX}*")],
        ),
    ]


def _kms_statements(storage: SecureTrainingStorage, pipeline: SageMakerPipeline) -> list[iam.PolicyStatement]:
    """The stage key: SSE-KMS reads and writes, the output key and, when the job has one, the volume key.

    * ``kms:Decrypt``: reading SSE-KMS objects, and completing multipart uploads (Amazon S3 User Guide,
      "Using server-side encryption with AWS KMS keys (SSE-KMS)").
    * ``kms:GenerateDataKey``: writing SSE-KMS objects (same guide).
    * ``kms:Encrypt``: "If you specify a KMS key in the output configuration of your training job"
      (SageMaker guide, "How to use SageMaker AI execution roles", CreateTrainingJob API: Execution Role
      Permissions, https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html).
    * ``kms:CreateGrant``: "If you specify a volume KMS key in the resource configuration of your training
      job" (same section). SageMaker creates the grant for the job's storage volume, so it is limited to
      grants for AWS resources (``kms:GrantIsForAWSResource``, a key the CreateGrant action supports).

    ``kms:DescribeKey`` is not granted: no call of the job needs it.

    An imported data bucket encrypted with a key of its own gets ``kms:Decrypt`` on that key, through
    S3 only (``kms:ViaService``): the job reads its channels and writes nothing there.
    """
    key = storage.key.key_arn
    statements = [
        iam.PolicyStatement(
            sid="UseStageKey",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            resources=[key],
        )
    ]
    if storage.data_key is not None and storage.data_key is not storage.key:
        statements.append(
            iam.PolicyStatement(
                sid="DecryptInputData",
                actions=["kms:Decrypt"],
                resources=[storage.data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region()}.amazonaws.com"}},
            )
        )
    if encrypts_training_volume(pipeline.rendered_definition):
        statements.append(
            iam.PolicyStatement(
                sid="EncryptTrainingVolume",
                actions=["kms:CreateGrant"],
                resources=[key],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
    return statements


def _log_and_metric_statements() -> list[iam.PolicyStatement]:
    """The job's log group and its ``pipelines-*`` streams, and metrics in SageMaker's namespace."""
    log_group = f"arn:{partition()}:logs:{region()}:{account_id()}:log-group:{TRAINING_LOG_GROUP}"
    return log_and_metric_statements("Training", log_group, f"{PIPELINE_JOB_PREFIX}*", SAGEMAKER_METRICS_NAMESPACE)


def _image_statements(pipeline: SageMakerPipeline) -> list[iam.PolicyStatement]:
    """Pull the training images the definition names (their ECR repositories), plus the registry login."""
    repositories = training_image_repositories(pipeline.rendered_definition)
    return image_pull_statements("PullTrainingImage", [repository.arn(partition()) for repository in repositories])


def _vpc_statements(network: NetworkSettings) -> list[iam.PolicyStatement]:
    """The ENI permissions SageMaker needs to run the job in the configured subnets."""
    ec2 = f"arn:{partition()}:ec2:{region()}:{account_id()}"
    subnets = [f"{ec2}:subnet/{subnet}" for subnet in network.subnet_ids]
    security_groups = [f"{ec2}:security-group/{group}" for group in network.security_group_ids]
    interfaces = f"{ec2}:network-interface/*"
    describe = ["DescribeDhcpOptions", "DescribeNetworkInterfaces", "DescribeSecurityGroups", "DescribeSubnets"]
    manage = ["CreateNetworkInterfacePermission", "DeleteNetworkInterface", "DeleteNetworkInterfacePermission"]
    return [
        iam.PolicyStatement(
            sid="DescribeVpc", actions=[f"ec2:{a}" for a in (*describe, "DescribeVpcs")], resources=["*"]
        ),
        iam.PolicyStatement(
            sid="CreateJobInterfaces",
            actions=["ec2:CreateNetworkInterface"],
            resources=[interfaces, *subnets, *security_groups],
        ),
        iam.PolicyStatement(
            sid="ManageJobInterfaces",
            actions=[f"ec2:{a}" for a in manage],
            resources=[interfaces],
            conditions={"ArnEquals": {"ec2:Subnet": subnets}},
        ),
    ]


def _acknowledge_wildcards(
    role: iam.Role, storage: SecureTrainingStorage, input_prefix: str, network: NetworkSettings
) -> None:
    """Record, finding by finding, why each remaining resource wildcard is needed (cdk-nag IAM5)."""
    log_group_arn = f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{TRAINING_LOG_GROUP}"
    unscoped = "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level permissions"
    if network.subnet_ids:
        unscoped += " and neither do the ec2:Describe* calls SageMaker makes to place the job in the VPC"
    acknowledgements = [
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"{unscoped}; PutMetricData is limited to SageMaker's {SAGEMAKER_METRICS_NAMESPACE} namespace "
            "by condition.",
            ("Resource::*",),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"SageMaker downloads every object of the declared channels under the {input_prefix}/ "
            "input prefix; object keys are chosen by whoever uploads the data set. Read-only.",
            (f"Resource::{nag_arn(storage.data_bucket, storage.data_bucket.bucket_arn)}/{input_prefix}/*",),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"Model artifacts, profiler output and per-execution checkpoints are written under {OUTPUT_PREFIX}/ "
            "with keys named at run time (job name, execution id); nothing outside that prefix is writable.",
            (f"Resource::{nag_arn(storage.artifacts_bucket, storage.artifacts_bucket.bucket_arn)}/{OUTPUT_PREFIX}/*",),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"The training code bundles are content-addressed objects under {CODE_PREFIX} of the stage's own bucket; "
            "a step retried after a redeploy reads the bundle of the definition it started with. Read-only.",
            (f"Resource::{nag_arn(storage.artifacts_bucket, storage.artifacts_bucket.bucket_arn)}/{CODE_PREFIX}*",),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"The trailing :* is the log-group ARN form CloudWatch Logs requires in IAM policies for "
            f"CreateLogGroup and DescribeLogStreams; it names the one {TRAINING_LOG_GROUP} log group.",
            (f"Resource::{log_group_arn}:*",),
        ),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            "SageMaker names the log streams <training job name>/algo-<n>-<epoch> at run time; pipeline "
            f"training jobs are named {PIPELINE_JOB_PREFIX}<execution>-<step>-<suffix>, so streams are scoped "
            f"to {PIPELINE_JOB_PREFIX}* in the {TRAINING_LOG_GROUP} log group.",
            (f"Resource::{log_group_arn}:log-stream:{PIPELINE_JOB_PREFIX}*",),
        ),
    ]
    if network.subnet_ids:
        acknowledgements.append(
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                "SageMaker creates one network interface per training instance, with an id unknown before the "
                "job runs; creation is limited to the configured subnets and security groups, and changes to "
                "interfaces by an ec2:Subnet condition on those subnets.",
                ("Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*",),
            )
        )
    acknowledge_nag(role.node.find_child("DefaultPolicy"), *acknowledgements)
