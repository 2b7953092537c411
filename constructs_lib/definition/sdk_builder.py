"""The one module that imports the SageMaker Python SDK (v2).

It holds ``PyTorchTrainingStepBuilder`` (the seed's builder, kept behaviour for
behaviour) and ``render_pipeline_definition``, which renders the pipeline offline:
a ``PipelineSession`` over a boto3 session with a region and static dummy credentials,
explicit S3 locations, an ``s3://`` source bundle and an ARN-shaped role, so the SDK never
calls AWS. Importing it costs about 2.7 s, so callers import it lazily (see
``render_cache.render_definition_cached``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
for _name in ("sagemaker", "sagemaker.config", "sagemaker.workflow.utilities", "botocore.credentials"):
    # The SDK logs INFO and WARNING lines that are expected offline (e.g. it drops TrainingJobName),
    # and botocore would announce the dummy credentials below as "found", which would mislead.
    logging.getLogger(_name).setLevel(logging.ERROR)

OFFLINE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "offline-rendering",
    "AWS_SECRET_ACCESS_KEY": "offline-rendering",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
"""While the SDK is imported: it builds a default boto3 session at import time, and without
credentials botocore would search ~/.aws, run credential processes or call the instance
metadata service. Static dummy values keep it from looking anywhere; nothing is signed."""


@contextlib.contextmanager
def _offline_aws_environment() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in OFFLINE_AWS_ENVIRONMENT}
    os.environ.update(OFFLINE_AWS_ENVIRONMENT)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


with _offline_aws_environment():
    import boto3
    import sagemaker.utils as sdk_utils
    from sagemaker.debugger import ProfilerConfig
    from sagemaker.inputs import TrainingInput
    from sagemaker.pytorch import PyTorch
    from sagemaker.utils import instance_supports_kms
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )
    from sagemaker.workflow.steps import TrainingStep

from constructs_lib.config.errors import ConfigError  # noqa: E402  # after the SDK is imported inside the offline environment above
from constructs_lib.config.model_config import HyperparametersBase, ModelConfig  # noqa: E402  # after the SDK is imported inside the offline environment above
from constructs_lib.config.stage_config import NetworkSettings, RetrySettings  # noqa: E402  # after the SDK is imported inside the offline environment above
from constructs_lib.definition.request import TRAINING_STEP_NAME, DefinitionRequest  # noqa: E402  # after the SDK is imported inside the offline environment above
from training_src import contract  # noqa: E402  # after the SDK is imported inside the offline environment above

logger = logging.getLogger(__name__)
logger.setLevel(logging.WARNING)  # the SDK configures the root logger at INFO; keep synth output quiet

PROFILER_INTERVAL_MILLIS = 1000
OFFLINE_SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
"""Explicit SDK defaults: no telemetry calls, and no user config files read from disk."""

_validate_sagemaker_config = sdk_utils.validate_sagemaker_config


def _validate_config_once(sagemaker_config: Any = None) -> None:
    """The SDK re-validates its config against a large JSON schema on every lookup (~0.35 s each,
    ~20 per render). ``PipelineSession.__init__`` has validated ``OFFLINE_SDK_CONFIG`` already."""
    if sagemaker_config is not OFFLINE_SDK_CONFIG:
        _validate_sagemaker_config(sagemaker_config)


sdk_utils.validate_sagemaker_config = _validate_config_once


def create_offline_session(region: str) -> PipelineSession:
    """A ``PipelineSession`` that renders without credentials or network.

    The static dummy credentials stop botocore's credential search (files, processes,
    instance metadata); the session never sends a request, so nothing is signed.
    """
    boto_session = boto3.Session(
        region_name=region,
        aws_access_key_id=OFFLINE_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=OFFLINE_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )
    return PipelineSession(boto_session=boto_session, sagemaker_config=OFFLINE_SDK_CONFIG)


class PyTorchTrainingStepBuilder:
    """Builds the PyTorch ``TrainingStep`` of the pipeline from typed config."""

    def __init__(
        self,
        config: ModelConfig,
        hyperparams: HyperparametersBase,
        sagemaker_session: PipelineSession | None = None,
        role: str | None = None,
        *,
        kms_key_arn: str | None = None,
        network: NetworkSettings | None = None,
        retries: RetrySettings | None = None,
    ) -> None:
        """Args:
        config: model settings plus S3 locations.
        hyperparams: trainer hyperparameters (serialized with ``serialize_config()``).
        sagemaker_session: a ``PipelineSession``; the builder never starts jobs.
        role: training job role ARN (an ARN, so the SDK does not look it up in IAM).
        kms_key_arn: key for training output and, where the instance allows, the volume.
        network: network isolation and VPC settings; default none.
        retries: step retry policy settings; default ``RetrySettings()``.
        """
        self.config = config
        self.hyperparams = hyperparams
        self.session = sagemaker_session
        self.role = role
        self.kms_key_arn = kms_key_arn
        self.network = network or NetworkSettings()
        self.retries = retries or RetrySettings()
        logger.info("Initialized PyTorchTrainingStepBuilder with hyperparams: %s", hyperparams.get_config())

    def _create_profiler_config(self) -> ProfilerConfig:
        """Profiler configuration: system metrics every second."""
        return ProfilerConfig(system_monitor_interval_millis=PROFILER_INTERVAL_MILLIS)

    def _get_metric_definitions(self) -> list[dict[str, str]]:
        """Metric definitions for training monitoring, from the trainer's contract."""
        return contract.metric_definitions()

    def _checkpoint_s3_uri(self) -> Any:
        """The configured checkpoint URI, or a per-execution prefix under the output path."""
        if self.config.has_checkpoint():
            return self.config.get_checkpoint_uri()
        output = self.config.output_path.rstrip("/")
        return Join(on="/", values=[output, "checkpoints", ExecutionVariables.PIPELINE_EXECUTION_ID])

    def _distribution(self) -> dict[str, Any] | None:
        if self.config.instance_count > 1:
            return {"torch_distributed": {"enabled": True}}
        return None

    def _create_pytorch_estimator(self, checkpoint_s3_uri: Any) -> PyTorch:
        config, network = self.config, self.network
        encrypt_volume = self.kms_key_arn is not None and instance_supports_kms(config.instance_type)
        try:
            return PyTorch(
                entry_point=config.entry_point,
                source_dir=config.source_dir,
                role=self.role,
                instance_count=config.instance_count,
                instance_type=config.instance_type,
                framework_version=config.framework_version,
                py_version=config.py_version,
                volume_size=config.volume_size,
                max_run=config.max_run,
                output_path=config.output_path,
                checkpoint_s3_uri=checkpoint_s3_uri,
                checkpoint_local_path=contract.CHECKPOINT_LOCAL_PATH,
                sagemaker_session=self.session,
                hyperparameters=self.hyperparams.serialize_config(),
                profiler_config=self._create_profiler_config(),
                metric_definitions=self._get_metric_definitions(),
                distribution=self._distribution(),
                output_kms_key=self.kms_key_arn,
                volume_kms_key=self.kms_key_arn if encrypt_volume else None,
                encrypt_inter_container_traffic=config.instance_count > 1,
                enable_network_isolation=network.enable_network_isolation,
                subnets=network.subnet_ids or None,
                security_group_ids=network.security_group_ids or None,
                use_spot_instances=config.use_spot_instances,
                max_wait=config.max_wait,
            )
        except ValueError as error:
            detail = " ".join(str(error).split())
            raise ConfigError(
                f"model: the SageMaker SDK rejects instance_type={config.instance_type} "
                f"instance_count={config.instance_count} framework_version={config.framework_version} "
                f"py_version={config.py_version}: {detail} (instance_count > 1 needs a GPU ml.p*/ml.g* "
                "or Trainium ml.trn* instance type)"
            ) from None

    def create_estimator(self) -> PyTorch:
        """Create the PyTorch estimator."""
        checkpoint_s3_uri = self._checkpoint_s3_uri()
        logger.info(
            "Creating PyTorch estimator: instance type %s, framework %s, python %s",
            self.config.instance_type,
            self.config.framework_version,
            self.config.py_version,
        )
        return self._create_pytorch_estimator(checkpoint_s3_uri)

    def _retry_policies(self) -> list[Any]:
        settings: dict[str, Any] = {
            "max_attempts": self.retries.max_attempts,
            "interval_seconds": self.retries.interval_seconds,
            "backoff_rate": self.retries.backoff_rate,
        }
        job_errors = [
            SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
            SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
            SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
        ]
        step_errors = [StepExceptionTypeEnum.THROTTLING, StepExceptionTypeEnum.SERVICE_FAULT]
        return [
            SageMakerJobStepRetryPolicy(exception_types=job_errors, **settings),
            StepRetryPolicy(exception_types=step_errors, **settings),
        ]

    def create_training_step(self) -> TrainingStep:
        """Create the training step with the train, val and test channels."""
        input_path = self.config.input_path.rstrip("/")
        inputs = {
            channel: TrainingInput(f"{input_path}/{contract.channel_object_key(channel)}")
            for channel in contract.CHANNELS
        }
        estimator = self.create_estimator()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession")
            step_args = estimator.fit(inputs)
        return TrainingStep(
            name=TRAINING_STEP_NAME,
            step_args=step_args,
            depends_on=[],
            retry_policies=self._retry_policies(),
        )


def render_pipeline_definition(request: DefinitionRequest) -> str:
    """Render the pipeline definition JSON offline, exactly as the SDK would upload it."""
    with _offline_aws_environment():
        return _render(request)


def _render(request: DefinitionRequest) -> str:
    session = create_offline_session(request.region)
    builder = PyTorchTrainingStepBuilder(
        request.model,
        request.hyperparameters,
        session,
        request.role_arn,
        kms_key_arn=request.kms_key_arn,
        network=request.network,
        retries=request.retries,
    )
    pipeline = Pipeline(
        name=request.pipeline_name,
        steps=[builder.create_training_step()],
        sagemaker_session=session,
        pipeline_experiment_config=None,  # no Experiments: the pipeline role needs no sagemaker:CreateExperiment
    )
    definition: str = pipeline.definition()
    return definition
