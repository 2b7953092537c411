"""The one module that imports the SageMaker Python SDK (v2).

It holds ``PyTorchTrainingStepBuilder`` (the seed's builder), the SDK classes that
``registration.py`` builds the quality gate and registration with, and ``create_offline_session``:
a ``PipelineSession`` over a boto3 session with a region and static dummy credentials, so that with
explicit S3 locations, an ``s3://`` source bundle and an ARN-shaped role the SDK never calls AWS
(``render.py`` puts the pipeline together). Importing it costs about 2.7 s, so callers import it
lazily (see ``render_cache.render_definition_cached``).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping
from typing import Any

from constructs_lib.definition.offline_env import OFFLINE_AWS_ENVIRONMENT, offline_aws_environment

with offline_aws_environment():
    import boto3
    import sagemaker.utils as sdk_utils
    from sagemaker import image_uris
    from sagemaker.debugger import ProfilerConfig
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.pytorch import PyTorch
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )
    from sagemaker.workflow.steps import TrainingStep

from constructs_lib.config.default_trainer import default_trainer
from constructs_lib.config.errors import FieldError
from constructs_lib.config.hyperparameters import HyperparametersBase
from constructs_lib.config.instance_storage import UnknownInstanceFamilyError, has_local_instance_storage
from constructs_lib.config.model_config import DEFAULT_VOLUME_SIZE_GB, ModelConfig
from constructs_lib.config.stage_config import NetworkSettings, RetrySettings
from constructs_lib.definition import pipeline_spec as spec

__all__ = [  # the SDK classes that registration.py builds with: it takes them from here, the one SDK import
    "ConditionGreaterThanOrEqualTo",
    "ConditionStep",
    "ExecutionVariables",
    "FailStep",
    "Join",
    "Model",
    "ModelStep",
    "ParameterFloat",
    "ParameterString",
    "Pipeline",
    "PipelineSession",
    "PyTorchTrainingStepBuilder",
    "TrainingStep",
    "create_offline_session",
    "image_uris",
]

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
    """A ``PipelineSession`` that renders without credentials or network."""
    boto_session = boto3.Session(
        region_name=region,
        aws_access_key_id=OFFLINE_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=OFFLINE_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )
    return PipelineSession(boto_session=boto_session, sagemaker_config=OFFLINE_SDK_CONFIG)


class _TrainingStep(TrainingStep):  # type: ignore[misc]  # the SDK is untyped here (follow_imports = skip)
    """A ``TrainingStep`` whose ``ResourceConfig`` carries no ``VolumeSizeInGB`` when the volume size is None.

    "When using an ML instance with NVMe SSD volumes, SageMaker doesn't provision Amazon EBS General Purpose
    SSD (gp2) storage" (ResourceConfig, SageMaker API Reference); the SDK's own docs say to leave volume_size
    out for those instance types, but its request builder always writes the key.
    """

    @property
    def arguments(self) -> Any:
        arguments = super().arguments
        resources = arguments.get("ResourceConfig", {})
        if "VolumeSizeInGB" in resources and resources["VolumeSizeInGB"] is None:
            del resources["VolumeSizeInGB"]
        return arguments


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
        channels: tuple[str, ...] | None = None,
        input_data_uri: Any = None,
        metric_definitions: Mapping[str, str] | None = None,
        checkpoint_local_path: str | None = None,
    ) -> None:
        """Args:
        config: model settings plus S3 locations.
        hyperparams: trainer hyperparameters (serialized with ``serialize_config()``).
        sagemaker_session: a ``PipelineSession``; the builder never starts jobs.
        role: training job role ARN (an ARN, so the SDK does not look it up in IAM).
        kms_key_arn: key for training output and, where the instance allows, the volume.
        network: network isolation and VPC settings; default none.
        retries: step retry policy settings; default ``RetrySettings()``.
        channels: the channels the job receives; default all of the bundled trainer's.
        input_data_uri: the channels' parent: a pipeline parameter; default ``config.input_path``.
        metric_definitions: metric Name -> regex; default the bundled trainer's.
        checkpoint_local_path: where the trainer writes checkpoints; default the bundled trainer's.

        Raises (from the ``create_*`` methods):
            FieldError: naming the setting (``model.volume_size``, ``model``) the SDK or SageMaker rejects.
        """
        self.config = config
        self.hyperparams = hyperparams
        self.session = sagemaker_session
        self.role = role
        self.kms_key_arn = kms_key_arn
        self.network = network or NetworkSettings()
        self.retries = retries or RetrySettings()
        bundled = default_trainer()
        self.channels = channels if channels is not None else bundled.channels
        self.input_data_uri = input_data_uri if input_data_uri is not None else config.input_path.rstrip("/")
        self.metric_definitions = dict(
            metric_definitions if metric_definitions is not None else bundled.metric_definitions
        )
        self.checkpoint_local_path = checkpoint_local_path or bundled.checkpoint_local_path

    def _create_profiler_config(self) -> ProfilerConfig:
        """Profiler configuration: system metrics every second."""
        return ProfilerConfig(system_monitor_interval_millis=PROFILER_INTERVAL_MILLIS)

    def _get_metric_definitions(self) -> list[dict[str, str]]:
        """Metric definitions for training monitoring, from the trainer's spec."""
        return [{"Name": name, "Regex": regex} for name, regex in self.metric_definitions.items()]

    def _checkpoint_s3_uri(self) -> Any:
        """The configured checkpoint URI, or a per-execution prefix under the output path."""
        if self.config.has_checkpoint():
            return self.config.get_checkpoint_uri()
        output = self.config.output_path.rstrip("/")
        return Join(on="/", values=[output, "checkpoints", ExecutionVariables.PIPELINE_EXECUTION_ID])

    def _distribution(self) -> dict[str, Any] | None:
        """torchrun (``torch_distributed``) on several instances, and on any GPU instance type.

        The toolkit then starts one process per GPU that it finds on the host: sagemaker-training 5.1.4,
        ``runner._get_by_runner_type``, ``default_processes_per_host = env.num_gpus`` (``nvidia-smi
        --list-gpus``), passed as ``torchrun --nproc_per_node``. So ml.g5.12xlarge x 1 runs 4 processes,
        one per GPU, and a single-GPU type runs 1; without a distribution it would run one process on cuda:0.
        """
        if self.config.instance_count > 1 or re.match(r"^ml\.[pg]\d", self.config.instance_type):
            return {"torch_distributed": {"enabled": True}}
        return None

    def _local_storage(self) -> bool:
        """Whether the instance type trains on local NVMe storage (``config.instance_storage``'s cited list;
        the SDK's own rule misses p6, trn2 and g7e)."""
        try:
            return has_local_instance_storage(self.config.instance_type)
        except UnknownInstanceFamilyError as error:
            raise FieldError("model.instance_type", str(error)) from None

    def _volume_size(self) -> int | None:
        """The EBS volume size, or None on instance types that train on local NVMe storage."""
        config = self.config
        if not self._local_storage():
            return config.volume_size or DEFAULT_VOLUME_SIZE_GB
        if config.volume_size is not None:
            raise FieldError(
                "model.volume_size",
                f"{config.instance_type} trains on its local NVMe instance storage, whose size is fixed; SageMaker "
                "provisions no EBS volume for it and the volume size does not apply: remove volume_size",
            )
        return None

    def _create_pytorch_estimator(self, checkpoint_s3_uri: Any) -> PyTorch:
        config, network = self.config, self.network
        encrypt_volume = self.kms_key_arn is not None and not self._local_storage()
        volume_size = self._volume_size()
        try:
            return PyTorch(
                entry_point=config.entry_point,
                source_dir=config.source_dir,
                role=self.role,
                instance_count=config.instance_count,
                instance_type=config.instance_type,
                framework_version=config.framework_version,
                py_version=config.py_version,
                image_uri=config.image_uri,
                volume_size=volume_size,
                max_run=config.max_run,
                output_path=config.output_path,
                checkpoint_s3_uri=checkpoint_s3_uri,
                checkpoint_local_path=self.checkpoint_local_path,
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
            raise FieldError(
                "model",
                f"the SageMaker SDK rejects instance_type={config.instance_type} "
                f"instance_count={config.instance_count} framework_version={config.framework_version} "
                f"py_version={config.py_version}: {detail} (instance_count > 1 needs a GPU ml.p*/ml.g* "
                "or Trainium ml.trn* instance type)",
            ) from None

    def create_estimator(self) -> PyTorch:
        """Create the PyTorch estimator."""
        return self._create_pytorch_estimator(self._checkpoint_s3_uri())

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

    def _channel_uri(self, channel: str) -> Any:
        """``<input>/<channel>/``: the trailing slash keeps ``train/`` from also matching ``train-old/``."""
        if isinstance(self.input_data_uri, str):
            return f"{self.input_data_uri}/{spec.channel_prefix(channel)}"
        return Join(on="/", values=[self.input_data_uri, spec.channel_prefix(channel)])

    def create_training_step(self) -> TrainingStep:
        """Create the training step with a channel per declared channel folder."""
        # FastFile: "SageMaker streams data directly from S3 to the container with no code changes, and provides
        # file system access to the data" (TrainingInputMode, SageMaker API Reference,
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AlgorithmSpecification.html).
        inputs = {
            channel: TrainingInput(self._channel_uri(channel), input_mode=self.config.input_mode)
            for channel in self.channels
        }
        estimator = self.create_estimator()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession")
            step_args = estimator.fit(inputs)
        return _TrainingStep(
            name=spec.TRAINING_STEP_NAME,
            step_args=step_args,
            depends_on=[],
            retry_policies=self._retry_policies(),
        )
