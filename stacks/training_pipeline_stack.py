"""One stack per stage: storage, the two roles with their trust and grants, the pipeline, and tags.

The stack wires; the grants live in ``stacks/training_role_grants.py``,
``stacks/pipeline_role_grants.py`` and ``stacks/registry_grants.py``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, CfnResource, Environment, Stack, TagManager, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.config.stage_config import StageConfig
from constructs_lib.model_registry import ModelRegistry
from constructs_lib.secure_storage import SecureTrainingStorage
from constructs_lib.training_pipeline import SageMakerTrainingPipeline
from stacks.automation_wiring import add_automation
from stacks.pipeline_role_grants import SAGEMAKER_PRINCIPAL, grant_pipeline_role
from stacks.registry_grants import grant_model_registration
from stacks.training_role_grants import PIPELINE_JOB_PREFIX, grant_training_role

PROJECT_TAG_VALUE = "sagemaker-pytorch-training"
"""Value of the ``Project`` tag on every taggable resource (with ``Stage`` = the stage name)."""
RAW_TAGGABLE_TYPES = frozenset({"AWS::IAM::Role", "AWS::Lambda::Function"})
"""Types that CDK's custom-resource providers create as plain ``CfnResource``s, which ``Tags.of`` skips."""


def stack_name_for(stage: StageConfig) -> str:
    """CloudFormation stack name of a stage."""
    return f"SageMakerTraining-{stage.name}"


def stage_tags(stage: StageConfig) -> dict[str, str]:
    """The cost-allocation tags of a stage's resources (also usable in ``aws:ResourceTag`` conditions)."""
    return {"Project": PROJECT_TAG_VALUE, "Stage": stage.name}


def sagemaker_principal(*source_arns: str) -> iam.ServicePrincipal:
    """SageMaker, allowed to assume the role only for this account's ``source_arns`` (confused deputy).

    SageMaker guide, "Cross-service confused deputy prevention"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html): it
    documents ``aws:SourceArn`` for training jobs (``training-job/*``, and "the full ARN of one specific
    training job to further limit permissions") and for Pipelines (``pipeline/<name>/*``, "pipeline
    execution records"), and uses ``aws:SourceArn`` with ``aws:SourceAccount`` in its general example.
    """
    return iam.ServicePrincipal(
        SAGEMAKER_PRINCIPAL,
        conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": list(source_arns)},
        },
    )


def pipeline_source_arns(pipeline_name: str) -> list[str]:
    """Source ARNs of the pipeline and its executions, each as the name is written and lowercased.

    The guide's Pipelines example matches ``pipeline/<name>/*`` (an execution) but does not say which
    ARN SageMaker sends, so the bare ``pipeline/<name>`` is allowed too. SageMaker writes most ARNs in
    lowercase (training jobs, model packages) and ``ArnLike`` is case-sensitive, so both spellings
    are listed (one when the name is already lowercase). A trust condition that is never met locks
    the role out on the first run; these stay within this one pipeline of this account and region.
    """
    sagemaker = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    return [
        f"{sagemaker}:pipeline/{name}{suffix}"
        for name in dict.fromkeys((pipeline_name, pipeline_name.lower()))
        for suffix in ("", "/*")
    ]


class TrainingPipelineStack(Stack):
    """The stage's KMS key, buckets, training and pipeline roles, and SageMaker pipeline.

    Attributes:
        storage: key and buckets.
        training_role: assumed by SageMaker for the pipeline's training jobs.
        pipeline_role: assumed by SageMaker Pipelines to start and watch the jobs and register versions.
        model_registry: the model package group the pipeline registers versions in.
        training_pipeline: the pipeline construct.
        automation: the stage's schedule, alerts and deployment (each None unless turned on).
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        env = Environment(region=stage.region, account=stage.account)
        # Stack tags are explicit (cdk.json sets @aws-cdk/core:explicitStackTags); _tag does the resources.
        super().__init__(scope, construct_id, env=env, tags=stage_tags(stage), **kwargs)
        self.storage = SecureTrainingStorage(self, "Storage", settings=stage.storage, stage_name=stage.name)
        sagemaker = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        self.training_role = iam.Role(
            self,
            "TrainingRole",
            assumed_by=sagemaker_principal(f"{sagemaker}:training-job/{PIPELINE_JOB_PREFIX}*"),
            description=f"Runs the SageMaker training jobs of stage {stage.name}",
        )
        self.pipeline_role = iam.Role(
            self,
            "PipelineRole",
            assumed_by=sagemaker_principal(*pipeline_source_arns(stage.resolved_pipeline_name)),
            description=f"Lets SageMaker Pipelines run the training jobs and register the models of stage {stage.name}",
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
        grant_training_role(self.training_role, stage=stage, storage=self.storage, pipeline=self.training_pipeline)
        grant_pipeline_role(self.pipeline_role, training_role=self.training_role)
        grant_model_registration(self.pipeline_role, self.model_registry, stage.registry)
        # The pipeline already references both roles (GetAtt); it must also wait for their policies,
        # or its first execution could start before PassRole and the S3/KMS grants exist.
        for role in (self.training_role, self.pipeline_role):
            self.training_pipeline.pipeline.node.add_dependency(role.node.find_child("DefaultPolicy"))
        self.automation = add_automation(
            self,
            stage=stage,
            storage=self.storage,
            pipeline=self.training_pipeline,
            registry=self.model_registry,
            tags=stage_tags(stage),
        )
        self._tag(stage_tags(stage))
        self._outputs()

    def _tag(self, tags: dict[str, str]) -> None:
        """Tag every taggable resource, including the plain ``CfnResource``s ``Tags.of`` does not reach."""
        for key, value in tags.items():
            Tags.of(self).add(key, value)
        tag_list = [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
        for node in self.node.find_all():
            if (
                isinstance(node, CfnResource)
                and node.cfn_resource_type in RAW_TAGGABLE_TYPES
                and not TagManager.is_taggable(node)
            ):
                node.add_property_override("Tags", tag_list)

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
