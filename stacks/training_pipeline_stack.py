"""One stack per stage: the stage's config -> ``SageMakerTrainingPipeline``, then tags and outputs.

Thin wiring: the construct owns the key, buckets, roles, grants, registry and pipeline. Its id is
``Default``, which CDK leaves out of logical ids, so the resources keep the logical ids they had
when the stack created them itself: an update of an existing stack replaces nothing.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CfnResource, Environment, Stack, TagManager, Tags
from constructs import Construct

from constructs_lib.config.errors import ConfigError, PropsError, stage_error
from constructs_lib.config.stage_config import StageConfig
from constructs_lib.training_pipeline import SageMakerTrainingPipeline
from stacks.automation_wiring import add_automation

PROJECT_TAG_VALUE = "sagemaker-pytorch-training"
"""Value of the ``Project`` tag on every taggable resource (with ``Stage`` = the stage name)."""
RAW_TAGGABLE_TYPES = frozenset({"AWS::IAM::Role", "AWS::Lambda::Function"})
"""Types that CDK's custom-resource providers create as plain ``CfnResource``s, which ``Tags.of`` skips."""
PIPELINE_CONSTRUCT_ID = "Default"
"""CDK's hidden id: resources under the construct keep the logical ids of the stack's own resources."""


def stack_name_for(stage: StageConfig) -> str:
    """CloudFormation stack name of a stage."""
    return f"SageMakerTraining-{stage.name}"


def stage_tags(stage: StageConfig) -> dict[str, str]:
    """The cost-allocation tags of a stage's resources (also usable in ``aws:ResourceTag`` conditions)."""
    return {"Project": PROJECT_TAG_VALUE, "Stage": stage.name}


def pipeline_for_stage(scope: Construct, stage: StageConfig) -> SageMakerTrainingPipeline:
    """The stage's pipeline construct; a bad prop is reported at its ``cdk.json`` path.

    Raises:
        ConfigError: ``cdk.json: context.stages.<stage>.<field>: ...``, one line per problem.
    """
    try:
        return SageMakerTrainingPipeline(
            scope,
            PIPELINE_CONSTRUCT_ID,
            stage_name=stage.name,
            hyperparameters=stage.hyperparameters.get_config(),
            channels=stage.channels,
            model=stage.model,
            pipeline_name=stage.pipeline_name,
            input_prefix=stage.input_prefix,
            network=stage.network,
            storage=stage.storage,
            retries=stage.retries,
            registry=stage.registry,
        )
    except PropsError as error:
        raise ConfigError("\n".join(str(stage_error(stage.name, *problem)) for problem in error.problems)) from None


class TrainingPipelineStack(Stack):
    """The stage's ``SageMakerTrainingPipeline``, tagged, with the outputs the operator CLI reads.

    Attributes:
        training_pipeline: the construct (its ``storage``, ``training_role``, ``pipeline_role``,
            ``model_registry`` and ``sagemaker_pipeline`` hold the resources).
        automation: the stage's schedule, alerts and deployment (each None unless turned on).
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        env = Environment(region=stage.region, account=stage.account)
        # Stack tags are explicit (cdk.json sets @aws-cdk/core:explicitStackTags); _tag does the resources.
        super().__init__(scope, construct_id, env=env, tags=stage_tags(stage), **kwargs)
        self.training_pipeline = pipeline_for_stage(self, stage)
        self.automation = add_automation(self, stage=stage, pipeline=self.training_pipeline, tags=stage_tags(stage))
        self._tag(stage_tags(stage))
        self._outputs()

    def _tag(self, tags: dict[str, str]) -> None:
        """Tag every taggable resource, including the plain ``CfnResource``s ``Tags.of`` does not reach."""
        for key, value in tags.items():
            Tags.of(self).add(key, value)
        tag_list = [{"Key": key, "Value": value} for key, value in sorted(tags.items())]
        for node in self.node.find_all():
            if (
                type(node) is CfnResource  # typed L1s (CfnBucket, ...) are taggable; only plain ones are asked
                and node.cfn_resource_type in RAW_TAGGABLE_TYPES
                and not TagManager.is_taggable(node)
            ):
                node.add_property_override("Tags", tag_list)

    def _outputs(self) -> None:
        pipeline = self.training_pipeline
        storage = pipeline.storage
        CfnOutput(self, "PipelineName", value=pipeline.pipeline_name, description="SageMaker pipeline name")
        CfnOutput(self, "DataBucketName", value=storage.data_bucket.bucket_name, description="Training data")
        CfnOutput(self, "ArtifactsBucketName", value=storage.artifacts_bucket.bucket_name, description="Models")
        CfnOutput(self, "TrainingRoleArn", value=pipeline.training_role.role_arn, description="Training job role")
        CfnOutput(self, "PipelineRoleArn", value=pipeline.pipeline_role.role_arn, description="Pipeline role")
        CfnOutput(self, "InputUri", value=pipeline.input_uri, description="Put train/ val/ test/ parquet here")
        CfnOutput(
            self,
            "ModelPackageGroupName",
            value=pipeline.model_registry.group_name,
            description="Model Registry group of the versions that passed the quality gate",
        )
