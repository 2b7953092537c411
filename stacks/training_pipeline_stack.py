"""One stack per stage: storage, roles and grants, and the training pipeline."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Environment, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.compliance import NagAcknowledgement, acknowledge_nag, nag_reference
from constructs_lib.config.image_catalog import pytorch_training_images
from constructs_lib.config.stage_config import StageConfig
from constructs_lib.model_registry import ModelRegistry
from constructs_lib.secure_storage import OUTPUT_PREFIX, SecureTrainingStorage
from constructs_lib.training_pipeline import SageMakerTrainingPipeline
from stacks.registry_grants import grant_model_registration

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
SAGEMAKER_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
PIPELINE_JOB_PREFIX = "pipelines-"
"""SageMaker Pipelines names the training jobs it starts ``pipelines-<execution>-<step>-<hash>``."""


def stack_name_for(stage: StageConfig) -> str:
    """CloudFormation stack name of a stage."""
    return f"SageMakerTraining-{stage.name}"


class TrainingPipelineStack(Stack):
    """The stage's KMS key, buckets, training and pipeline roles, and SageMaker pipeline.

    Attributes:
        storage: key and buckets.
        training_role: assumed by the training job.
        pipeline_role: assumed by SageMaker Pipelines to start and watch the job.
        model_registry: the model package group the pipeline registers versions in.
        training_pipeline: the pipeline construct.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        env = Environment(region=stage.region, account=stage.account)
        super().__init__(scope, construct_id, env=env, **kwargs)
        self.storage = SecureTrainingStorage(self, "Storage", settings=stage.storage, stage_name=stage.name)
        self.training_role = iam.Role(
            self,
            "TrainingRole",
            assumed_by=iam.ServicePrincipal(SAGEMAKER_PRINCIPAL),
            description=f"Runs the SageMaker training jobs of stage {stage.name}",
        )
        self.pipeline_role = iam.Role(
            self,
            "PipelineRole",
            assumed_by=iam.ServicePrincipal(SAGEMAKER_PRINCIPAL),
            description=f"Lets SageMaker Pipelines start the training jobs of stage {stage.name}",
        )
        self.model_registry = ModelRegistry(self, "ModelRegistry", stage=stage)
        self.training_pipeline = SageMakerTrainingPipeline(
            self,
            "TrainingPipeline",
            stage=stage,
            data_bucket=self.storage.data_bucket,
            artifacts_bucket=self.storage.artifacts_bucket,
            key=self.storage.key,
            training_role=self.training_role,
            pipeline_role=self.pipeline_role,
            model_registry=self.model_registry,
        )
        self._grant_training_role(stage)
        self._grant_pipeline_role()
        grant_model_registration(self.pipeline_role, self.model_registry, stage.registry)
        # The pipeline already references both roles (GetAtt); it must also wait for their policies,
        # or its first execution could start before PassRole and the S3/KMS grants exist.
        for role in (self.training_role, self.pipeline_role):
            self.training_pipeline.pipeline.node.add_dependency(role.node.find_child("DefaultPolicy"))
        self._outputs()

    def _grant_training_role(self, stage: StageConfig) -> None:
        """Least privilege for the training job: explicit actions only, scoped to prefixes and ARNs.

        CDK's ``grant_read``/``grant_read_write``/``grant_encrypt_decrypt`` would add wildcard
        actions (``s3:GetObject*``, ``s3:List*``, ``kms:ReEncrypt*`` ...) and the whole asset bucket;
        the statements below name each action the job needs and nothing else.
        """
        role, storage = self.training_role, self.storage
        data, artifacts, asset = storage.data_bucket, storage.artifacts_bucket, self.training_pipeline.code_asset
        input_prefix = stage.input_prefix
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListInputPrefix",
                actions=["s3:ListBucket"],
                resources=[data.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [input_prefix, f"{input_prefix}/*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadInput",
                actions=["s3:GetObject"],
                resources=[data.arn_for_objects(f"{input_prefix}/*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListTrainingOutput",
                actions=["s3:ListBucket"],
                resources=[artifacts.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [OUTPUT_PREFIX, f"{OUTPUT_PREFIX}/*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadWriteTrainingOutput",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[artifacts.arn_for_objects(f"{OUTPUT_PREFIX}/*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadCodeBundle",
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseStageKey",
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[storage.key.key_arn],
            )
        )
        log_group = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{TRAINING_LOG_GROUP}"
        log_streams = f"{log_group}:log-stream:{PIPELINE_JOB_PREFIX}*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TrainingLogGroup",
                actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
                resources=[log_group],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TrainingLogStreams",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_streams],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="TrainingMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": SAGEMAKER_METRICS_NAMESPACE}},
            )
        )
        repository = pytorch_training_images().repository_arn(
            stage.model.framework_version, stage.region, partition=Aws.PARTITION
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullTrainingImage",
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[repository],
            )
        )
        role.add_to_policy(iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        unscoped = "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level permissions"
        if stage.network.subnet_ids:
            self._grant_vpc_access(stage)
            unscoped += " and neither do the ec2:Describe* calls SageMaker makes to place the job in the VPC"
        acknowledge_nag(
            role.node.find_child("DefaultPolicy"),
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                f"{unscoped}; PutMetricData is limited to SageMaker's {SAGEMAKER_METRICS_NAMESPACE} namespace "
                "by condition.",
                ("Resource::*",),
            ),
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                f"SageMaker downloads every object of the train/val/test channels under the {input_prefix}/ "
                "input prefix; object keys are chosen by whoever uploads the data set. Read-only.",
                (f"Resource::{nag_reference(data, 'Arn')}/{input_prefix}/*",),
            ),
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                f"Model artifacts, profiler output and per-execution checkpoints are written under {OUTPUT_PREFIX}/ "
                "with keys named at run time (job name, execution id); nothing outside that prefix is writable.",
                (f"Resource::{nag_reference(artifacts, 'Arn')}/{OUTPUT_PREFIX}/*",),
            ),
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                "SageMaker names the log streams <training job name>/algo-<n>-<epoch> at run time; pipeline "
                f"training jobs are named {PIPELINE_JOB_PREFIX}<execution>-<step>-<hash>, so streams are scoped "
                f"to {PIPELINE_JOB_PREFIX}* in the {TRAINING_LOG_GROUP} log group.",
                (
                    "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                    f"{TRAINING_LOG_GROUP}:log-stream:{PIPELINE_JOB_PREFIX}*",
                ),
            ),
        )

    def _grant_vpc_access(self, stage: StageConfig) -> None:
        """The ENI permissions SageMaker needs to run the job in the configured subnets."""
        role, network = self.training_role, stage.network
        ec2 = f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        subnets = [f"{ec2}:subnet/{subnet}" for subnet in network.subnet_ids]
        security_groups = [f"{ec2}:security-group/{group}" for group in network.security_group_ids]
        interfaces = f"{ec2}:network-interface/*"
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeVpc",
                actions=[
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CreateJobInterfaces",
                actions=["ec2:CreateNetworkInterface"],
                resources=[interfaces, *subnets, *security_groups],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageJobInterfaces",
                actions=[
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[interfaces],
                conditions={"ArnEquals": {"ec2:Subnet": subnets}},
            )
        )
        acknowledge_nag(
            role.node.find_child("DefaultPolicy"),
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                "SageMaker creates one network interface per training instance, with an id unknown before the "
                "job runs; creation is limited to the configured subnets and security groups, and changes to "
                "interfaces by an ec2:Subnet condition on those subnets.",
                ("Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*",),
            ),
        )

    def _grant_pipeline_role(self) -> None:
        role = self.pipeline_role
        training_jobs = (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:training-job/{PIPELINE_JOB_PREFIX}*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=[training_jobs],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.training_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER_PRINCIPAL}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant", "kms:DescribeKey"],
                resources=[self.storage.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        acknowledge_nag(
            role.node.find_child("DefaultPolicy"),
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                f"SageMaker Pipelines names its training jobs {PIPELINE_JOB_PREFIX}<execution>-<step>-<hash> at run "
                f"time, so the pipeline role is scoped to training-job/{PIPELINE_JOB_PREFIX}* of this account and "
                "region.",
                (
                    "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    f"training-job/{PIPELINE_JOB_PREFIX}*",
                ),
            ),
        )

    def _outputs(self) -> None:
        pipeline = self.training_pipeline
        CfnOutput(self, "PipelineName", value=pipeline.pipeline_name, description="SageMaker pipeline name")
        CfnOutput(self, "DataBucketName", value=self.storage.data_bucket.bucket_name, description="Training data")
        CfnOutput(self, "ArtifactsBucketName", value=self.storage.artifacts_bucket.bucket_name, description="Models")
        CfnOutput(self, "TrainingRoleArn", value=self.training_role.role_arn, description="Training job role")
        CfnOutput(self, "PipelineRoleArn", value=self.pipeline_role.role_arn, description="Pipeline role")
        CfnOutput(self, "InputUri", value=pipeline.input_uri, description="Put train/ val/ test/ parquet here")
        CfnOutput(
            self,
            "ModelPackageGroupName",
            value=self.model_registry.group_name,
            description="Model Registry group of the versions that passed the quality gate",
        )
