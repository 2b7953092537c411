"""The props of ``SageMakerTrainingPipeline``, validated before any resource is created.

Every prop is checked here, in one pass, and every problem is reported at once as a ``PropsError``
whose lines name the prop (``model.instance_type``, ``hyperparameters.epochs``, ``trainer.entry_point``)
and say what is valid: pydantic's field rules, the trainer's own hyperparameter spec, the channels the
trainer reads, the region's images, the Python the trainer's pinned requirements need, and whether
the container can install them. The generated props reference in README.md is read from this model.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError, field_validator

from constructs_lib.config.default_trainer import default_trainer
from constructs_lib.config.errors import FieldError, PropsError, validation_problems
from constructs_lib.config.hyperparameters import HyperparametersBase, hyperparameter_length_problems
from constructs_lib.config.model_config import ModelSettings
from constructs_lib.config.python_floor import floor_problem
from constructs_lib.config.reference_docs import CDK_TYPE
from constructs_lib.config.region_checks import region_and_image_problem
from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.config.stage_config import (
    INPUT_PREFIX_PATTERN,
    SAGEMAKER_NAME_PATTERN,
    STAGE_NAME_PATTERN,
    NetworkSettings,
    RetrySettings,
    StorageSettings,
    default_model_package_group_name,
    default_pipeline_name,
)
from constructs_lib.config.strict_model import StrictModel
from constructs_lib.config.trainer_spec import TrainerSpec, channels_problem, serving_python_problem


def _has_attributes(value: Any, kind: str, *names: str) -> Any:
    if value is not None and not all(hasattr(value, name) for name in names):
        raise ValueError(f"must be an {kind} (a construct or an imported reference), got {type(value).__name__}")
    return value


class TrainingPipelineProps(StrictModel):
    """Props of `SageMakerTrainingPipeline`: one stage's training pipeline, storage, roles and registry."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    stage_name: str = Field(
        ...,
        pattern=STAGE_NAME_PATTERN,
        description="Names the stage in resource names and descriptions: `<stage_name>-pytorch-training`, "
        "`<stage_name>-pytorch-models`.",
    )
    trainer: TrainerSpec = Field(
        default_factory=default_trainer,
        description="The trainer: code folder, entry point, hyperparameters, channels, metrics and gate "
        "(`TrainerSpec`); default the bundled PyTorch binary classifier (training_src/).",
    )
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Values of the trainer's hyperparameters, checked against its spec; unset ones take its defaults.",
    )
    channels: list[str] | None = Field(
        None,
        description="Channels the job receives, each `<InputDataUri>/<channel>/`; default every channel of the "
        "trainer. The trainer's required channels must be listed.",
    )
    model: ModelSettings = Field(default_factory=ModelSettings, description="Training job settings (`ModelSettings`).")
    pipeline_name: str | None = Field(
        None,
        max_length=256,
        pattern=SAGEMAKER_NAME_PATTERN,
        description="SageMaker pipeline name; default `<stage_name>-pytorch-training`.",
    )
    input_prefix: str = Field(
        "training-data",
        pattern=INPUT_PREFIX_PATTERN,
        description="Key prefix in the data bucket holding one folder per channel; the only part of the bucket "
        "the training role may read.",
    )
    data_bucket: Any = Field(
        None,
        json_schema_extra={CDK_TYPE: "aws_s3.IBucket"},
        description="An existing bucket to read training data from, e.g. `Bucket.from_bucket_name(...)`; default a "
        "new KMS-encrypted bucket. Its bucket policy (cross-account) is yours to manage.",
    )
    data_bucket_key: Any = Field(
        None,
        json_schema_extra={CDK_TYPE: "aws_kms.IKey"},
        description="The KMS key `data_bucket` is encrypted with, when it has a customer-managed one; the training "
        "role may decrypt with it through S3 only. Its key policy must let the account's IAM policies grant use.",
    )
    network: NetworkSettings = Field(default_factory=NetworkSettings, description="`NetworkSettings`.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="`StorageSettings`.")
    retries: RetrySettings = Field(default_factory=RetrySettings, description="`RetrySettings`.")
    registry: RegistrySettings = Field(default_factory=RegistrySettings, description="`RegistrySettings`.")

    @field_validator("data_bucket")
    @classmethod
    def _is_bucket(cls, value: Any) -> Any:
        return _has_attributes(value, "aws_s3.IBucket", "bucket_arn", "bucket_name", "arn_for_objects")

    @field_validator("data_bucket_key")
    @classmethod
    def _is_key(cls, value: Any) -> Any:
        return _has_attributes(value, "aws_kms.IKey", "key_arn", "key_id")

    @property
    def resolved_pipeline_name(self) -> str:
        """The pipeline name, defaulted from the stage name."""
        return self.pipeline_name or default_pipeline_name(self.stage_name)

    @property
    def resolved_model_package_group_name(self) -> str:
        """The model package group name, defaulted from the stage name."""
        return self.registry.model_package_group_name or default_model_package_group_name(self.stage_name)

    @property
    def resolved_channels(self) -> tuple[str, ...]:
        """The declared channels, defaulted to every channel of the trainer."""
        return tuple(self.channels) if self.channels is not None else self.trainer.channels


def validate_props(construct_path: str, region: str, raw: dict[str, Any]) -> tuple[TrainingPipelineProps, Any]:
    """The validated props and the trainer's typed hyperparameter values.

    Raises:
        PropsError: one line per problem found, each naming its prop.
    """
    try:
        props = TrainingPipelineProps.model_validate(raw)
    except ValidationError as error:
        raise PropsError(construct_path, validation_problems(error)) from None
    problems: list[tuple[str, str]] = []
    hyperparameters = _hyperparameter_values(props, problems)
    for check in (_channels_problem, _region_problem, _bucket_key_problem, _source_problem):
        problem = check(props, region)
        if problem is not None:
            problems.append((problem.field, problem.detail))
    if problems:
        raise PropsError(construct_path, problems)
    return props, hyperparameters


def _hyperparameter_values(props: TrainingPipelineProps, problems: list[tuple[str, str]]) -> HyperparametersBase | None:
    try:
        values = props.trainer.hyperparameters_model().model_validate(props.hyperparameters)
    except ValidationError as error:
        problems += [(f"hyperparameters.{field}", detail) for field, detail in validation_problems(error)]
        return None
    problems += [(f"hyperparameters.{name}", detail) for name, detail in hyperparameter_length_problems(values)]
    return values


def _channels_problem(props: TrainingPipelineProps, _region: str) -> FieldError | None:
    problem = channels_problem(props.trainer, props.resolved_channels)
    if problem:
        return FieldError("channels", problem)
    try:
        props.trainer.gate_metric_for(props.resolved_channels)
    except FieldError as error:
        return error
    return None


def _region_problem(props: TrainingPipelineProps, region: str) -> FieldError | None:
    return serving_python_problem(props.trainer, props.registry.inference_py_version) or region_and_image_problem(
        props.model, props.registry, region
    )


def _bucket_key_problem(props: TrainingPipelineProps, _region: str) -> FieldError | None:
    if props.data_bucket_key is not None and props.data_bucket is None:
        return FieldError("data_bucket_key", "applies only with data_bucket (the stage's own bucket uses its own key)")
    return None


def _source_problem(props: TrainingPipelineProps, region: str) -> FieldError | None:
    """The trainer's requirements: installable on the image's Python, and reachable from the container."""
    source_dir = props.trainer.source_dir
    requirements = source_dir / "requirements.txt"
    if not requirements.is_file():
        return None
    problem = floor_problem(requirements, f"{source_dir.name}/requirements.txt", props.model.py_version, region)
    if problem is not None:
        return FieldError(*problem)
    lines = [line.strip() for line in requirements.read_text(encoding="utf-8").splitlines()]
    if props.network.enable_network_isolation and any(line and not line.startswith("#") for line in lines):
        return FieldError(
            "network.enable_network_isolation",
            f"the training container would have no network to pip install {source_dir.name}/requirements.txt; "
            "bake those packages into the image or set enable_network_isolation to false",
        )
    return None
