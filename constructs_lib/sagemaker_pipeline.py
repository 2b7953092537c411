"""``SageMakerPipeline``: the ``AWS::SageMaker::Pipeline`` of a stage, with its code asset and definition.

It packages the trainer's folder as a deterministic ``tar.gz`` file asset, renders the pipeline
definition offline with the SageMaker SDK (cached), checks it, swaps placeholders for CDK tokens,
and creates the pipeline: parameters, ``ModelTraining``, the ``QualityGate`` with its
``QualityGateFailed`` branch, and ``RegisterModel`` into the stage's model registry. It creates no
IAM grants: ``SageMakerTrainingPipeline`` owns the roles and grants them what this pipeline runs.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.code_bundle import PublishedCodeBundle
from constructs_lib.config.errors import FieldError
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
from constructs_lib.work_dirs import bundle_dir, render_cache_dir


class SageMakerPipeline(Construct):
    """A SageMaker pipeline that trains the bundled code, gates the model and registers it.

    Attributes:
        code_bundle: the ``sourcedir.tar.gz``, published and kept under ``code/`` in the artifacts bucket.
        code_asset: its CDK file asset.
        pipeline: the ``AWS::SageMaker::Pipeline`` resource.
        pipeline_name: the pipeline's name.
        rendered_definition: the definition as rendered, with placeholders (for checks and grants).
        input_uri / output_uri: the default input and the output S3 locations (CDK tokens).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        request: DefinitionRequest,
        source_dir: Path,
        input_prefix: str,
        description: str,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        training_role: iam.IRole,
        pipeline_role: iam.IRole,
        model_registry: ModelRegistry,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """Args:
        request: the rendering inputs, with the placeholders of ``render_cache`` for deploy-time names.
        source_dir: the trainer's folder; its files go at the root of the code bundle.
        input_prefix: the data bucket prefix of the channel folders.
        description: the pipeline's description.
        data_bucket / artifacts_bucket / key / training_role / pipeline_role / model_registry: what the
            placeholders stand for, and what the pipeline runs as and registers into.
        removal_policy: the stage's policy for what stack deletion removes (the code copy's log group).

        Raises:
            FieldError: naming the setting that the bundle, the SDK or the definition checks reject.
        """
        super().__init__(scope, construct_id)
        try:
            bundle = write_source_bundle(source_dir, request.model.entry_point, bundle_dir(self))
        except SourceBundleError as error:
            raise FieldError(error.field, error.detail) from None
        self.code_bundle = PublishedCodeBundle(
            self, "CodeBundle", bundle=bundle, artifacts_bucket=artifacts_bucket, key=key, removal_policy=removal_policy
        )
        self.code_asset = self.code_bundle.asset
        self.pipeline_name = request.pipeline_name
        self.rendered_definition = render_definition_cached(request, render_cache_dir(self))
        check_definition(self.rendered_definition, ROLE_PLACEHOLDER)
        definition = substitute_placeholders(
            self.rendered_definition,
            {
                SOURCE_BUNDLE_PLACEHOLDER: self.code_bundle.s3_uri,
                ROLE_PLACEHOLDER: training_role.role_arn,
                kms_key_placeholder(request.region): key.key_arn,
                DATA_BUCKET_PLACEHOLDER: data_bucket.bucket_name,
                ARTIFACTS_BUCKET_PLACEHOLDER: artifacts_bucket.bucket_name,
            },
        )
        self.input_uri = f"s3://{data_bucket.bucket_name}/{input_prefix}"
        self.output_uri = f"s3://{artifacts_bucket.bucket_name}/{OUTPUT_PREFIX}"
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description=description,
            role_arn=pipeline_role.role_arn,
            # A plain dict: this property is untyped in the CDK, and the generated struct class
            # would serialize as camelCase `pipelineDefinitionBody`, which CloudFormation rejects.
            pipeline_definition={"PipelineDefinitionBody": definition},
        )
        # The definition names the group and the bundle; the first execution needs both to exist.
        self.pipeline.node.add_dependency(model_registry.group, self.code_bundle.copy)
