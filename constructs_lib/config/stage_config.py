"""Stage configuration: one typed object per deployment stage, read from ``cdk.json``.

A stage is a pipeline in one region (and optionally one fixed account) with its own
model settings, hyperparameters, network, storage and retry settings. Every field is
documented and validated here; ``load_stages`` turns pydantic's errors into
``ConfigError`` messages that name the ``cdk.json`` path and what would be valid.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from constructs_lib.config.errors import ConfigError
from constructs_lib.config.image_catalog import pytorch_training_images
from constructs_lib.config.model_config import ModelHyperparameters, ModelSettings, StrictModel

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
        description="Key prefix in the data bucket holding train/, val/ and test/.",
    )
    model: ModelSettings = Field(default_factory=ModelSettings, description="Training job settings.")
    hyperparameters: ModelHyperparameters = Field(
        default_factory=ModelHyperparameters, description="Trainer hyperparameters."
    )
    network: NetworkSettings = Field(default_factory=NetworkSettings, description="Network settings.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Retention settings.")
    retries: RetrySettings = Field(default_factory=RetrySettings, description="Step retry policy.")

    @model_validator(mode="after")
    def _check_region_and_image(self) -> StageConfig:
        images = pytorch_training_images()
        if self.region not in images.all_regions:
            raise ValueError(
                f"region {self.region!r} is not a known AWS region with SageMaker PyTorch training images; "
                f"valid: {', '.join(sorted(images.all_regions))}"
            )
        model = self.model
        version = images.resolve(model.framework_version)
        if version is None or self.region not in images.regions[version]:
            raise ValueError(
                f"model.framework_version {model.framework_version!r} has no PyTorch training image in "
                f"{self.region}; valid there: {', '.join(images.supported_versions(self.region))}"
            )
        if model.py_version not in images.py_versions[version]:
            raise ValueError(
                f"model.py_version {model.py_version!r} does not pair with framework_version "
                f"{model.framework_version}; valid: {', '.join(images.py_versions[version])}"
            )
        return self

    @property
    def resolved_pipeline_name(self) -> str:
        """The pipeline name, defaulted from the stage name."""
        return self.pipeline_name or f"{self.name}-pytorch-training"


def _format_error(source: str, prefix: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        message = item["msg"].removeprefix("Value error, ")
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
