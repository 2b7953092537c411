"""``SageMakerTrainingPipeline``: the L3 construct that owns one stage's training pipeline.

It validates its props first (``training_pipeline_props``: one ``PropsError`` naming each bad prop),
then creates, with the grants next to the resources they govern:

* ``Storage``: a rotated KMS key; data (unless ``data_bucket`` is given), artifacts and access-log
  buckets, encrypted, TLS-only, versioned, private (``SecureTrainingStorage``);
* ``TrainingRole``: assumed by SageMaker only for this account's ``pipelines-*`` training jobs; reads
  the declared channels under ``input_prefix`` only, writes under ``training-output/`` only, uses
  the stage key, writes its logs and metrics, pulls the training image (``grants/training_role.py``);
* ``PipelineRole``: assumed by SageMaker only for this pipeline and its executions; starts, watches and
  stops the training jobs, passes the training role, registers versions (``grants/pipeline_role.py``,
  ``grants/registry.py``);
* ``ModelRegistry``: the model package group ``<stage_name>-pytorch-models`` (``registry.model_package_group_name``);
* ``TrainingPipeline``: the ``AWS::SageMaker::Pipeline`` ``<stage_name>-pytorch-training``
  (``pipeline_name``) with the trainer's code as a file asset (``SageMakerPipeline``).

Defaults: the bundled trainer with its hyperparameters and every one of its channels; the
``ModelSettings``, ``NetworkSettings``, ``StorageSettings``, ``RetrySettings`` and ``RegistrySettings``
defaults (README, "Use it in your own CDK app"). The stack must name its region (the definition
names the region's images). It works under any app's feature flags (``feature_flags.py``) and writes
its bundles and render cache next to the app's ``cdk.json`` or into its cloud assembly (``work_dirs.py``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.config.errors import FieldError, PropsError
from constructs_lib.config.model_config import ModelConfig, ModelSettings
from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.config.stage_config import NetworkSettings, RetrySettings, StorageSettings
from constructs_lib.config.trainer_spec import TrainerSpec
from constructs_lib.definition.render_cache import (
    ARTIFACTS_BUCKET_PLACEHOLDER,
    DATA_BUCKET_PLACEHOLDER,
    ROLE_PLACEHOLDER,
    SOURCE_BUNDLE_PLACEHOLDER,
    kms_key_placeholder,
)
from constructs_lib.definition.request import DefinitionRequest, trainer_fields
from constructs_lib.feature_flags import pin_feature_flags
from constructs_lib.grants.pipeline_role import grant_pipeline_role
from constructs_lib.grants.registry import grant_model_registration
from constructs_lib.grants.training_role import grant_training_role
from constructs_lib.grants.trust import (
    pipeline_arns,
    pipeline_source_arns,
    sagemaker_principal,
    training_job_source_arn,
)
from constructs_lib.model_registry import ModelRegistry
from constructs_lib.sagemaker_pipeline import SageMakerPipeline
from constructs_lib.secure_storage import OUTPUT_PREFIX, SecureTrainingStorage
from constructs_lib.training_pipeline_props import TrainingPipelineProps, validate_props


class SageMakerTrainingPipeline(Construct):
    """One stage's SageMaker training pipeline with its key, buckets, roles, grants and model registry.

    Attributes:
        props: the validated props (defaults filled in).
        storage: key and buckets (``SecureTrainingStorage``).
        key: the stage's KMS key (data, artifacts, training output and volumes).
        data_bucket: the training data bucket: the stage's own, or the imported ``data_bucket``.
        artifacts_bucket: models, checkpoints and profiler output under ``training-output/``.
        training_role: assumed by SageMaker for the pipeline's training jobs.
        pipeline_role: assumed by SageMaker Pipelines to run the jobs and register versions.
        model_registry: the model package group construct; ``model_package_group`` its resource.
        sagemaker_pipeline: the pipeline construct, with ``code_asset`` and ``rendered_definition``.
        pipeline: the ``AWS::SageMaker::Pipeline`` resource.
        pipeline_name / pipeline_arn: the pipeline's name and ARN (as written).
        input_uri / output_uri: default input and output S3 locations (CDK tokens).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_name: str,
        trainer: TrainerSpec | None = None,
        hyperparameters: dict[str, Any] | None = None,
        channels: list[str] | None = None,
        model: ModelSettings | dict[str, Any] | None = None,
        pipeline_name: str | None = None,
        input_prefix: str | None = None,
        data_bucket: s3.IBucket | None = None,
        data_bucket_key: kms.IKey | None = None,
        network: NetworkSettings | dict[str, Any] | None = None,
        storage: StorageSettings | dict[str, Any] | None = None,
        retries: RetrySettings | dict[str, Any] | None = None,
        registry: RegistrySettings | dict[str, Any] | None = None,
    ) -> None:
        """Each prop is documented in ``TrainingPipelineProps`` and in README's props reference.

        Raises:
            PropsError: before anything is created, one line per invalid prop and what is valid.
        """
        super().__init__(scope, construct_id)
        pin_feature_flags(self)  # before any child: every resource below reads these, not the app's
        given = {
            "stage_name": stage_name,
            "trainer": trainer,
            "hyperparameters": hyperparameters,
            "channels": channels,
            "model": model,
            "pipeline_name": pipeline_name,
            "input_prefix": input_prefix,
            "data_bucket": data_bucket,
            "data_bucket_key": data_bucket_key,
            "network": network,
            "storage": storage,
            "retries": retries,
            "registry": registry,
        }
        region = self._region()
        self.props, hyperparameter_values = validate_props(
            self.node.path, region, {name: value for name, value in given.items() if value is not None}
        )
        props = self.props
        self.pipeline_name = props.resolved_pipeline_name
        self.pipeline_arn = pipeline_arns(self.pipeline_name)[0]
        self.storage = SecureTrainingStorage(
            self,
            "Storage",
            settings=props.storage,
            stage_name=props.stage_name,
            data_bucket=props.data_bucket,
            data_key=props.data_bucket_key,
        )
        self.training_role = iam.Role(
            self,
            "TrainingRole",
            assumed_by=sagemaker_principal(training_job_source_arn()),
            description=f"Runs the SageMaker training jobs of stage {props.stage_name}",
        )
        self.pipeline_role = iam.Role(
            self,
            "PipelineRole",
            assumed_by=sagemaker_principal(*pipeline_source_arns(self.pipeline_name)),
            description="Lets SageMaker Pipelines run the training jobs and register the models of stage "
            f"{props.stage_name}",
        )
        removal = RemovalPolicy.DESTROY if props.storage.removal_policy == "destroy" else RemovalPolicy.RETAIN
        self.model_registry = ModelRegistry(
            self,
            "ModelRegistry",
            group_name=props.resolved_model_package_group_name,
            stage_name=props.stage_name,
            pipeline_name=self.pipeline_name,
            removal_policy=removal,
        )
        request = self._definition_request(props, region, hyperparameter_values)
        try:
            self.sagemaker_pipeline = SageMakerPipeline(
                self,
                "TrainingPipeline",
                request=request,
                source_dir=props.trainer.source_dir,
                input_prefix=props.input_prefix,
                description=f"PyTorch training pipeline of stage {props.stage_name}",
                data_bucket=self.storage.data_bucket,
                artifacts_bucket=self.storage.artifacts_bucket,
                key=self.storage.key,
                training_role=self.training_role,
                pipeline_role=self.pipeline_role,
                model_registry=self.model_registry,
                removal_policy=removal,
            )
        except FieldError as error:
            raise PropsError(self.node.path, [(error.field, error.detail)]) from None
        self.key = self.storage.key
        self.data_bucket = self.storage.data_bucket
        self.artifacts_bucket = self.storage.artifacts_bucket
        self.model_package_group = self.model_registry.group
        self.pipeline = self.sagemaker_pipeline.pipeline
        self.input_uri = self.sagemaker_pipeline.input_uri
        self.output_uri = self.sagemaker_pipeline.output_uri
        self._grant(props)

    def _region(self) -> str:
        region = Stack.of(self).region
        if Token.is_unresolved(region):
            raise PropsError(
                self.node.path,
                [("region", "the stack has no region; give it one (env=Environment(region=...)): the pipeline "
                  "definition names that region's training and inference images")],
            )  # fmt: skip
        return region

    def _grant(self, props: TrainingPipelineProps) -> None:
        """The roles' grants, each next to what it governs, and the pipeline's wait for them."""
        grant_training_role(
            self.training_role,
            storage=self.storage,
            input_prefix=props.input_prefix,
            pipeline=self.sagemaker_pipeline,
            network=props.network,
        )
        grant_pipeline_role(self.pipeline_role, training_role=self.training_role)
        grant_model_registration(self.pipeline_role, self.model_registry, props.registry)
        # The pipeline already references both roles (GetAtt); it must also wait for their policies,
        # or its first execution could start before PassRole and the S3/KMS grants exist.
        for role in (self.training_role, self.pipeline_role):
            self.pipeline.node.add_dependency(role.node.find_child("DefaultPolicy"))

    @staticmethod
    def _definition_request(props: TrainingPipelineProps, region: str, hyperparameters: Any) -> DefinitionRequest:
        """The rendering inputs, with placeholders for the resources CDK names at deploy time."""
        return DefinitionRequest(
            pipeline_name=props.resolved_pipeline_name,
            region=region,
            role_arn=ROLE_PLACEHOLDER,
            kms_key_arn=kms_key_placeholder(region),
            model=ModelConfig(
                **props.model.model_dump(),
                entry_point=props.trainer.entry_point,
                source_dir=SOURCE_BUNDLE_PLACEHOLDER,
                input_path=f"s3://{DATA_BUCKET_PLACEHOLDER}/{props.input_prefix}",
                output_path=f"s3://{ARTIFACTS_BUCKET_PLACEHOLDER}/{OUTPUT_PREFIX}",
            ),
            hyperparameters=hyperparameters,
            network=props.network,
            retries=props.retries,
            registry=props.registry,
            model_package_group_name=props.resolved_model_package_group_name,
            **trainer_fields(props.trainer, props.resolved_channels, props.registry.quality_threshold),
        )

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (a CI role, a scheduler) start executions of this pipeline, and nothing else.

        ``sagemaker:StartPipelineExecution`` on the pipeline's ARN, as its name is written and lowercased
        (IAM compares ARNs case-sensitively): Service Authorization Reference for SageMaker, resource type
        ``pipeline`` (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html).
        """
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:StartPipelineExecution"],
            resource_arns=pipeline_arns(self.pipeline_name),
        )
