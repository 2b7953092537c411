"""Stage configuration: one typed object per deployment stage, read from ``cdk.json``.

A stage is a pipeline in one region (and optionally one fixed account) with its own
channels, model settings, hyperparameters, network, storage, retry and registry settings.
Every field is documented and validated here; ``load_stages`` turns pydantic's errors into
``ConfigError`` messages in the one form ``cdk.json: context.stages.<stage>.<field>: …``
that say what would be valid.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from constructs_lib.config.automation_config import (
    DeploymentSettings,
    NotificationSettings,
    ScheduleSettings,
    automation_problem,
)
from constructs_lib.config.default_trainer import default_trainer
from constructs_lib.config.errors import ConfigError, validation_problems
from constructs_lib.config.model_config import ModelHyperparameters, ModelSettings
from constructs_lib.config.region_checks import region_and_image_problem
from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.config.strict_model import StrictModel
from constructs_lib.config.trainer_spec import channels_problem, serving_python_problem

SAGEMAKER_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$"
STAGE_NAME_PATTERN = r"^[a-zA-Z](-*[a-zA-Z0-9]){0,39}$"
INPUT_PREFIX_PATTERN = r"^[A-Za-z0-9!_.*'()\-]+(/[A-Za-z0-9!_.*'()\-]+)*$"
"""S3's safe key characters, ``/``-separated, no leading or trailing slash."""


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
    region: str = Field(
        ..., examples=["us-east-1"], description="AWS region to deploy to; must host the PyTorch training image."
    )
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
        pattern=INPUT_PREFIX_PATTERN,
        description="Key prefix in the data bucket holding one folder per channel (train/, val/, test/); "
        "the InputDataUri parameter defaults to `s3://<data bucket>/<input_prefix>`.",
    )
    channels: list[str] = Field(
        default_factory=lambda: list(default_trainer().channels),
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
        problem = channels_problem(default_trainer(), channels)
        if problem:
            raise ValueError(problem)
        return channels

    @model_validator(mode="after")
    def _check_region_and_images(self) -> StageConfig:
        problem = (
            serving_python_problem(default_trainer(), self.registry.inference_py_version)
            or region_and_image_problem(self.model, self.registry, self.region)
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
        return self.pipeline_name or default_pipeline_name(self.name)

    @property
    def resolved_model_package_group_name(self) -> str:
        """The model package group name, defaulted from the stage name."""
        return self.registry.model_package_group_name or default_model_package_group_name(self.name)


def default_pipeline_name(stage_name: str) -> str:
    """``<stage>-pytorch-training``: the pipeline's name when none is set."""
    return f"{stage_name}-pytorch-training"


def default_model_package_group_name(stage_name: str) -> str:
    """``<stage>-pytorch-models``: the model package group's name when none is set."""
    return f"{stage_name}-pytorch-models"


def _format_error(source: str, prefix: str, error: ValidationError) -> str:
    return "\n".join(
        f"{source}: {'.'.join(p for p in (prefix, field) if p)}: {detail}"
        for field, detail in validation_problems(error, example=_example, reference="the config reference")
    )


def _example(location: tuple[int | str, ...]) -> str:
    """``; for example "region": "us-east-1"`` from the missing field's ``examples``, or ``""``."""
    model: Any = StageConfig
    field = None
    for part in location:
        field = model.model_fields.get(part) if isinstance(part, str) and hasattr(model, "model_fields") else None
        if field is None:
            return ""
        model = field.annotation
    if field is None or not field.examples:
        return ""
    return f"; for example {json.dumps(location[-1])}: {json.dumps(field.examples[0])}"


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


def _case_clash(names: list[str], source: str) -> ConfigError | None:
    """Two stage names that differ only in case (``staging``, ``Staging``) name the same resources.

    SageMaker writes resource names into its ARNs in lowercase (README, "Trust (confused deputy)"), so
    the two stages' default model package groups and pipelines get the same ARNs: one group is shared,
    and each pipeline role's trust, which lists the lowercased pipeline ARN, admits the other's pipeline.
    """
    first: dict[str, str] = {}
    for name in names:
        other = first.setdefault(name.lower(), name)
        if other != name:
            return ConfigError(
                f"{source}: context.stages.{name}: differs from stage {other!r} only in case; SageMaker writes "
                "names into its ARNs in lowercase, so the two would share one model package group and each "
                "pipeline role would trust the other's pipeline: rename one"
            )
    return None


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
    if stages is None or stages == {}:
        raise ConfigError(
            f'{source}: context.stages: no stages are defined; add one, e.g. "stages": {{"dev": {{"region": '
            '"us-east-1"}}'
        )
    if not isinstance(stages, dict):
        raise ConfigError(f'{source}: context.stages: must be an object like {{"dev": {{"region": "us-east-1"}}}}')
    clash = _case_clash(list(stages), source)
    if clash is not None:
        raise clash
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
