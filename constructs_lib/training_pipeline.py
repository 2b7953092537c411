"""``SageMakerTrainingPipeline``: the L3 construct for one stage's training pipeline.

It validates its props, packages the training code as a deterministic ``tar.gz`` file
asset, renders the pipeline definition offline with the SageMaker SDK (cached), checks
it, swaps placeholders for CDK tokens, and creates the ``AWS::SageMaker::Pipeline``:
parameters, ``ModelTraining``, the ``QualityGate`` with its ``QualityGateFailed`` branch,
and ``RegisterModel`` into the stage's model registry. It creates no IAM grants: the stack
wires roles and grants.

Defaults:
    * code bundle written to ``<project_root>/.build/bundles`` before CDK copies it;
    * ``InputDataUri`` defaults to ``s3://<data bucket>/<stage.input_prefix>``, each channel is the
      folder ``<InputDataUri>/<channel>/``;
    * output ``s3://<artifacts bucket>/training-output``, checkpoints under
      ``training-output/checkpoints/<pipeline execution id>``.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.config.errors import stage_error
from constructs_lib.config.image_catalog import parse_ecr_image_uri, pytorch_training_images
from constructs_lib.config.model_config import ModelConfig
from constructs_lib.config.python_floor import floor_problem
from constructs_lib.config.stage_config import StageConfig
from constructs_lib.definition.checks import check_definition
from constructs_lib.definition.render_cache import (
    ARTIFACTS_BUCKET_PLACEHOLDER,
    DATA_BUCKET_PLACEHOLDER,
    ROLE_PLACEHOLDER,
    SOURCE_BUNDLE_PLACEHOLDER,
    kms_key_placeholder,
    render_definition_cached,
    substitute_placeholders,
)
from constructs_lib.definition.request import DefinitionRequest
from constructs_lib.definition.source_bundle import SourceBundleError, write_source_bundle
from constructs_lib.model_registry import ModelRegistry
from constructs_lib.secure_storage import OUTPUT_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SageMakerTrainingPipeline(Construct):
    """A SageMaker pipeline that trains the bundled PyTorch code, gates the model and registers it.

    Attributes:
        code_asset: the ``sourcedir.tar.gz`` file asset.
        pipeline: the ``AWS::SageMaker::Pipeline`` resource.
        pipeline_name: the pipeline's name.
        rendered_definition: the definition as rendered, with placeholders (for checks and tests).
        input_uri / output_uri: the default input and the output S3 locations (CDK tokens).
        training_image_repository_arn: the ECR repository the training job pulls from (the
            catalog's, or ``model.image_uri``'s); the training role's pull grant belongs on it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        training_role: iam.IRole,
        pipeline_role: iam.IRole,
        model_registry: ModelRegistry,
        project_root: Path = PROJECT_ROOT,
    ) -> None:
        super().__init__(scope, construct_id)
        source_dir = self._validate(stage, project_root)
        try:
            bundle = write_source_bundle(source_dir, stage.model.entry_point, project_root / ".build" / "bundles")
        except SourceBundleError as error:
            raise stage_error(stage.name, error.field, error.detail) from None
        self.code_asset = s3_assets.Asset(self, "CodeBundle", path=str(bundle))
        self.pipeline_name = stage.resolved_pipeline_name
        self.training_image_repository_arn = _training_image_repository_arn(stage)
        request = _definition_request(stage, model_registry.group_name)
        self.rendered_definition = render_definition_cached(request)
        check_definition(self.rendered_definition, ROLE_PLACEHOLDER)
        definition = substitute_placeholders(
            self.rendered_definition,
            {
                SOURCE_BUNDLE_PLACEHOLDER: self.code_asset.s3_object_url,
                ROLE_PLACEHOLDER: training_role.role_arn,
                kms_key_placeholder(stage.region): key.key_arn,
                DATA_BUCKET_PLACEHOLDER: data_bucket.bucket_name,
                ARTIFACTS_BUCKET_PLACEHOLDER: artifacts_bucket.bucket_name,
            },
        )
        self.input_uri = f"s3://{data_bucket.bucket_name}/{stage.input_prefix}"
        self.output_uri = f"s3://{artifacts_bucket.bucket_name}/{OUTPUT_PREFIX}"
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description=f"PyTorch training pipeline of stage {stage.name}",
            role_arn=pipeline_role.role_arn,
            # A plain dict: this property is untyped in the CDK, and the generated struct class
            # would serialize as camelCase `pipelineDefinitionBody`, which CloudFormation rejects.
            pipeline_definition={"PipelineDefinitionBody": definition},
        )
        # The definition names the group; the first execution's RegisterModel needs it to exist.
        self.pipeline.node.add_dependency(model_registry.group)

    @staticmethod
    def _validate(stage: StageConfig, project_root: Path) -> Path:
        """Check the props that pydantic cannot: the source folder on disk, its requirements, the network."""
        source_dir = (project_root / stage.model.source_dir).resolve()
        if not source_dir.is_dir():
            raise stage_error(
                stage.name, "model.source_dir", f"{stage.model.source_dir!r} is not a folder under {project_root}"
            )
        requirements = source_dir / "requirements.txt"
        if requirements.is_file():
            shown = f"{stage.model.source_dir}/requirements.txt"
            problem = floor_problem(requirements, shown, stage.model.py_version, stage.region)
            if problem is not None:
                raise stage_error(stage.name, *problem)
        has_requirements = requirements.is_file() and any(
            line.strip() and not line.lstrip().startswith("#") for line in requirements.read_text().splitlines()
        )
        if stage.network.enable_network_isolation and has_requirements:
            raise stage_error(
                stage.name,
                "network.enable_network_isolation",
                f"the training container would have no network to pip install {stage.model.source_dir}/"
                "requirements.txt; bake those packages into the image or set enable_network_isolation to false",
            )
        return source_dir


def _training_image_repository_arn(stage: StageConfig) -> str:
    """ARN of the ECR repository of the training image, with the partition as a CDK token."""
    if stage.model.image_uri is not None:
        image = parse_ecr_image_uri(stage.model.image_uri)
        assert image is not None  # validated by ModelSettings
        return image.repository_arn(partition=Aws.PARTITION)
    return pytorch_training_images().repository_arn(stage.model.framework_version, stage.region, Aws.PARTITION)


def _definition_request(stage: StageConfig, model_package_group_name: str) -> DefinitionRequest:
    """The stage's rendering inputs, with placeholders for the resources CDK names at deploy time."""
    return DefinitionRequest(
        stage_name=stage.name,
        pipeline_name=stage.resolved_pipeline_name,
        region=stage.region,
        role_arn=ROLE_PLACEHOLDER,
        kms_key_arn=kms_key_placeholder(stage.region),
        model=ModelConfig(
            **stage.model.model_dump(exclude={"source_dir"}),
            source_dir=SOURCE_BUNDLE_PLACEHOLDER,
            input_path=f"s3://{DATA_BUCKET_PLACEHOLDER}/{stage.input_prefix}",
            output_path=f"s3://{ARTIFACTS_BUCKET_PLACEHOLDER}/{OUTPUT_PREFIX}",
        ),
        hyperparameters=stage.hyperparameters,
        network=stage.network,
        retries=stage.retries,
        channels=tuple(stage.channels),
        registry=stage.registry,
        model_package_group_name=model_package_group_name,
    )
