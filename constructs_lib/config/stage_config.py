"""Stage configuration: one typed object per deployment stage, read from ``cdk.json``.

A stage is a pipeline in one region (and optionally one fixed account) with its own
channels, model settings, hyperparameters, network, storage, retry and registry settings.
Every field is documented and validated here; ``load_stages`` turns pydantic's errors into
``ConfigError`` messages in the one form ``cdk.json: context.stages.<stage>.<field>: …``
that say what would be valid.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from constructs_lib.config.automation_config import (
    DeploymentSettings,
    NotificationSettings,
    ScheduleSettings,
    automation_problem,
)
from constructs_lib.config.errors import ConfigError, FieldError
from constructs_lib.config.image_catalog import parse_ecr_image_uri, pytorch_inference_images, pytorch_training_images
from constructs_lib.config.model_config import ModelHyperparameters, ModelSettings, StrictModel
from constructs_lib.config.registry_config import RegistrySettings
from training_src import contract

SAGEMAKER_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$"
STAGE_NAME_PATTERN = r"^[a-zA-Z](-*[a-zA-Z0-9]){0,39}$"


class NetworkSettings(StrictModel):
    """Where the training job runs on the network."""

    enable_network_isolation: bool = Field(
        False, strict=True, description="Run the training container with no outbound network access."
    )
    subnet_ids: list[str] = Field(
        default_factory=list,
        description="VPC subnets (subnet-...) for the training job; empty means no VPC.",
    )
    security_group_ids: list[str] = Field(
        default_factory=list,
        description="Security groups (sg-...) for the training job; required with subnet_ids.",
    )

    @model_validator(mode="after")
    def _check_vpc(self) -> NetworkSettings:
        bad = [s for s in self.subnet_ids if not s.startswith("subnet-")]
        bad += [g for g in self.security_group_ids if not g.startswith("sg-")]
        if bad:
            raise ValueError(f"not a subnet-... or sg-... id: {', '.join(bad)}")
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            raise ValueError("subnet_ids and security_group_ids must be set together (both or neither)")
        return self


class StorageSettings(StrictModel):
    """Bucket retention and lifecycle."""

    removal_policy: Literal["retain", "destroy"] = Field(
        "retain",
        description="What happens to buckets and the key when the stack is deleted; "
        "destroy empties and deletes them (throwaway stages only).",
    )
    checkpoint_expiration_days: int = Field(
        30, ge=1, le=3650, strict=True, description="Days after which checkpoint objects expire."
    )
    noncurrent_version_expiration_days: int = Field(
        90, ge=1, le=3650, strict=True, description="Days after which noncurrent object versions expire."
    )
    access_log_expiration_days: int = Field(
        365, ge=1, le=3650, strict=True, description="Days after which S3 server access logs expire."
    )


class RetrySettings(StrictModel):
    """Retry policy of the training step for transient SageMaker and step errors."""

    max_attempts: int = Field(3, ge=1, le=20, strict=True, description="Attempts per retryable failure.")
    interval_seconds: int = Field(60, ge=1, le=3600, strict=True, description="Seconds before the first retry.")
    backoff_rate: float = Field(2.0, ge=1.0, le=10.0, description="Multiplier of the interval per retry.")


class StageConfig(StrictModel):
    """One deployment stage: a stack with its own buckets, roles, key and pipeline."""

    name: str = Field(
        ..., pattern=STAGE_NAME_PATTERN, description="Stage name (the key under stages); letters, digits, -."
    )
    region: str = Field(..., description="AWS region to deploy to; must host the PyTorch training image.")
    account: str | None = Field(
        None,
        pattern=r"^\d{12}$",
        description="12-digit AWS account id; unset deploys to the account of the credentials in use.",
    )
    pipeline_name: str | None = Field(
        None,
        max_length=256,
        pattern=SAGEMAKER_NAME_PATTERN,
        description="SageMaker pipeline name; defaults to <name>-pytorch-training.",
    )
    input_prefix: str = Field(
        "training-data",
        pattern=r"^[A-Za-z0-9!_.*'()\-]+(/[A-Za-z0-9!_.*'()\-]+)*$",
        description="Key prefix in the data bucket holding one folder per channel (train/, val/, test/); "
        "the InputDataUri parameter defaults to `s3://<data bucket>/<input_prefix>`.",
    )
    channels: list[str] = Field(
        default_factory=lambda: list(contract.CHANNELS),
        description="Channels the training job receives, each the folder `<InputDataUri>/<channel>/`. train and val "
        "always; test is optional: without it no test metrics, and the quality gate reads Selected Validation "
        "AUC ROC. A declared channel with no object under its folder fails the job at start.",
    )
    model: ModelSettings = Field(default_factory=ModelSettings, description="Training job settings.")
    hyperparameters: ModelHyperparameters = Field(
        default_factory=ModelHyperparameters, description="Trainer hyperparameters."
    )
    network: NetworkSettings = Field(default_factory=NetworkSettings, description="Network settings.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Retention settings.")
    retries: RetrySettings = Field(default_factory=RetrySettings, description="Step retry policy.")
    registry: RegistrySettings = Field(
        default_factory=RegistrySettings, description="Model registry, quality gate and inference image."
    )
    schedule: ScheduleSettings | None = Field(None, description="Scheduled pipeline runs; unset: off.")
    notifications: NotificationSettings | None = Field(
        None, description="Alerts on failed or stopped runs and deployment outcomes; unset: off."
    )
    deployment: DeploymentSettings | None = Field(
        None, description="Deploy each approved model version to a real-time endpoint; unset: off."
    )

    @field_validator("channels")
    @classmethod
    def _check_channels(cls, channels: list[str]) -> list[str]:
        unknown = [channel for channel in channels if channel not in contract.CHANNELS]
        missing = [channel for channel in contract.REQUIRED_CHANNELS if channel not in channels]
        if unknown or missing or len(set(channels)) != len(channels):
            raise ValueError(
                "must name each channel once: train and val always, test optional; "
                f"valid: {', '.join(contract.CHANNELS)}"
            )
        return channels

    @model_validator(mode="after")
    def _check_region_and_images(self) -> StageConfig:
        regions = pytorch_training_images().all_regions
        if self.region not in regions:
            raise FieldError(
                "region",
                f"{self.region!r} is not a known AWS region with SageMaker PyTorch training images; "
                f"valid: {', '.join(sorted(regions))}",
            )
        problem = (
            _training_image_problem(self.model, self.region)
            or _inference_image_problem(self.registry, self.region)
            or automation_problem(
                self.name, self.region, self.registry.inference_instance_types, self.notifications, self.deployment
            )
        )
        if problem is not None:
            raise problem
        return self

    @property
    def resolved_pipeline_name(self) -> str:
        """The pipeline name, defaulted from the stage name."""
        return self.pipeline_name or f"{self.name}-pytorch-training"

    @property
    def resolved_model_package_group_name(self) -> str:
        """The model package group name, defaulted from the stage name."""
        return self.registry.model_package_group_name or f"{self.name}-pytorch-models"


def _ecr_region_problem(uri: str, region: str, field: str) -> FieldError | None:
    image = parse_ecr_image_uri(uri)
    if image is not None and image.region != region:
        return FieldError(field, f"{uri!r} is in {image.region}; use a copy in ECR in {region}, the stage's region")
    return None


def _training_image_problem(model: ModelSettings, region: str) -> FieldError | None:
    if model.image_uri is None:
        found = pytorch_training_images().version_problem(model.framework_version, model.py_version, region)
        return FieldError(f"model.{found[0]}", found[1]) if found else None
    image = parse_ecr_image_uri(model.image_uri)
    if image is not None and image.py_version not in (None, model.py_version):
        return FieldError(
            "model.py_version",
            f"{model.py_version!r} differs from the Python of model.image_uri ({image.py_version}); "
            f"set py_version to {image.py_version!r}",
        )
    return _ecr_region_problem(model.image_uri, region, "model.image_uri")


def _inference_image_problem(registry: RegistrySettings, region: str) -> FieldError | None:
    if registry.inference_image_uri is not None:
        return _ecr_region_problem(registry.inference_image_uri, region, "registry.inference_image_uri")
    found = pytorch_inference_images().version_problem(
        registry.inference_framework_version, registry.inference_py_version, region
    )
    return FieldError(f"registry.inference_{found[0]}", found[1]) if found else None


def _format_error(source: str, prefix: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        message = item["msg"].removeprefix("Value error, ")
        found = item.get("ctx", {}).get("error")
        if isinstance(found, FieldError):  # a model validator's finding about one field: put it in the path
            location, message = f"{location}.{found.field}", found.detail
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the config reference in README.md)"
        given = item.get("input")
        shown = "" if item["type"] in ("extra_forbidden", "missing") or isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"{source}: {location}: {message}{shown}")
    return "\n".join(lines)


def parse_stage(name: str, raw: Any, source: str = "cdk.json") -> StageConfig:
    """Validate one stage's settings.

    Raises:
        ConfigError: naming the ``cdk.json`` path of each invalid field.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: context.stages.{name}: must be an object of stage settings")
    try:
        return StageConfig.model_validate({"name": name, **raw})
    except ValidationError as error:
        raise ConfigError(_format_error(source, f"context.stages.{name}", error)) from None


def load_stages(context: dict[str, Any], selected: str | None = None, source: str = "cdk.json") -> list[StageConfig]:
    """Read and validate the stages from the CDK context.

    Args:
        context: the ``context`` object of ``cdk.json`` (or the app's context).
        selected: synthesize only this stage (``-c stage=NAME``); None means all.
        source: file name used in error messages.

    Raises:
        ConfigError: when a stage is invalid, none is defined, or ``selected`` is unknown.
    """
    stages = context.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise ConfigError(f'{source}: context.stages: must be an object like {{"dev": {{"region": "us-east-1"}}}}')
    if selected is not None and selected not in stages:
        raise ConfigError(f"stage {selected!r}: unknown stage; valid: {', '.join(stages)}")
    names = [selected] if selected is not None else list(stages)
    errors, parsed = [], []
    for name in names:
        try:
            parsed.append(parse_stage(name, stages[name], source))
        except ConfigError as error:
            errors.append(str(error))
    if errors:
        raise ConfigError("\n".join(errors))
    return parsed
