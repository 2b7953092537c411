"""Typed model settings and hyperparameters for the PyTorch training step.

``ModelSettings`` is what a stage sets in ``cdk.json`` (the ``model`` prop of the construct);
``ModelConfig`` adds the trainer's entry point and the S3 locations that the construct fills in, and
is what the step builder consumes. ``ModelHyperparameters`` is generated from the bundled trainer's
spec (``training_src/contract.py``), so names, defaults and ranges are defined once; another
trainer's hyperparameters are generated from its own spec (``TrainerSpec.hyperparameters_model``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from constructs_lib.config.api_shapes import TRAINING_INSTANCE_TYPES, unknown_values
from constructs_lib.config.default_trainer import default_hyperparameters_model
from constructs_lib.config.hyperparameters import HyperparametersBase
from constructs_lib.config.image_catalog import check_ecr_image_uri
from constructs_lib.config.strict_model import StrictModel

MAX_RUN_LIMIT_SECONDS = 28 * 24 * 60 * 60
"""SageMaker's upper bound for ``MaxRuntimeInSeconds`` (28 days)."""
DEFAULT_MAX_RUN_SECONDS = 4 * 24 * 60 * 60
DEFAULT_VOLUME_SIZE_GB = 30
"""EBS volume of instance types without local NVMe storage, when ``volume_size`` is unset."""
S3_URI_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$"
EcrImageUri = Annotated[str, AfterValidator(check_ecr_image_uri)]
"""An image in Amazon ECR: ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` or ``@sha256:…``."""


class ModelSettings(StrictModel):
    """Training job settings a stage may override in ``cdk.json`` under ``model``."""

    instance_type: str = Field(
        "ml.m5.xlarge",
        pattern=r"^ml\.[a-z0-9\-]+\.[a-z0-9]+$",
        description="SageMaker training instance type, e.g. ml.m5.xlarge or ml.g5.xlarge; one of the API's "
        "TrainingInstanceType values (botocore's service model).",
    )
    instance_count: int = Field(
        1,
        ge=1,
        le=100,
        strict=True,
        description="Number of instances; above 1 the step uses torchrun (torch_distributed), "
        "which the SDK allows on GPU (ml.p*, ml.g*) and Trainium (ml.trn*) instances.",
    )
    framework_version: str = Field(
        "2.8.0",
        pattern=r"^\d+\.\d+(\.\d+)?$",
        description="PyTorch version of the SageMaker training image.",
    )
    py_version: str = Field(
        "py312",
        pattern=r"^py3\d+$",
        description="Python version of the training image; must pair with framework_version, and be one that "
        "every == pin in source_dir/requirements.txt supports (Requires-Python).",
    )
    image_uri: EcrImageUri | None = Field(
        None,
        description="Training image override, `<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>` (or "
        "`@sha256:<digest>`): any PyTorch Deep Learning Container, or your own, in Amazon ECR in the stage's region. "
        "Unset: framework_version/py_version pick it from the SDK's catalog. Set: "
        "framework_version is not used; py_version must name the image's Python (checked against a py3NN tag).",
    )
    volume_size: int | None = Field(
        None,
        ge=1,
        le=16384,
        strict=True,
        description=f"EBS training volume in GB; unset means {DEFAULT_VOLUME_SIZE_GB}. Must stay unset on instance "
        "families with local NVMe storage (g4dn, g5, g6, g6e, p3dn, p4d, p5, p6-b200, trn1, trn2, r5d, ...; the list "
        "is in constructs_lib/config/instance_storage.py): SageMaker trains on the instance storage there and "
        "provisions no EBS volume.",
    )
    max_run: int = Field(
        DEFAULT_MAX_RUN_SECONDS,
        ge=1,
        le=MAX_RUN_LIMIT_SECONDS,
        strict=True,
        description="Maximum training time in seconds (SageMaker allows up to 28 days).",
    )
    use_spot_instances: bool = Field(
        False,
        strict=True,
        description="Train on managed spot capacity; resumes from checkpoints after interruptions.",
    )
    max_wait: int | None = Field(
        None,
        ge=1,
        le=2 * MAX_RUN_LIMIT_SECONDS,
        strict=True,
        description="Spot only: seconds to wait for capacity plus run time; must exceed max_run.",
    )
    input_mode: Literal["File", "FastFile"] = Field(
        "File",
        description="How each channel reaches the job (TrainingInputMode): File copies every object to the "
        "instance's volume before training starts; FastFile streams objects from S3 on demand behind the same "
        "folder paths, so a large channel needs no copy or disk space (the trainer reads parquet by ranges).",
    )

    @field_validator("instance_type")
    @classmethod
    def _known_to_the_api(cls, value: str) -> str:
        """CreateTrainingJob rejects a type outside ``TrainingInstanceType`` only when the pipeline runs."""
        problems = unknown_values([value], TRAINING_INSTANCE_TYPES)
        if problems:
            raise ValueError(f"not a SageMaker {TRAINING_INSTANCE_TYPES}: {problems[0]}")
        return value

    @model_validator(mode="after")
    def _check_spot(self) -> ModelSettings:
        if self.use_spot_instances and self.max_wait is None:
            raise ValueError("use_spot_instances requires max_wait (seconds), greater than max_run")
        if self.max_wait is not None and not self.use_spot_instances:
            raise ValueError("max_wait applies only with use_spot_instances=true")
        if self.max_wait is not None and self.max_wait <= self.max_run:
            raise ValueError(f"max_wait ({self.max_wait}) must be greater than max_run ({self.max_run})")
        return self


class ModelConfig(ModelSettings):
    """Everything the step builder needs: the settings plus the trainer's entry point and the job's S3 locations."""

    entry_point: str = Field(
        ..., pattern=r"^[A-Za-z0-9_\-]+\.py$", description="Python file at the root of the bundle that SageMaker runs."
    )
    source_dir: str = Field(..., pattern=S3_URI_PATTERN, description="s3:// URI of the sourcedir.tar.gz code bundle.")
    input_path: str = Field(
        ...,
        pattern=S3_URI_PATTERN,
        description="Default of the InputDataUri parameter: the S3 prefix holding the channel folders.",
    )
    output_path: str = Field(..., pattern=S3_URI_PATTERN, description="S3 prefix for model artifacts.")
    checkpoint_uri: str | None = Field(
        None,
        pattern=S3_URI_PATTERN,
        description="Fixed checkpoint S3 URI; unset means <output_path>/checkpoints/<execution id>.",
    )

    def has_checkpoint(self) -> bool:
        """Whether a fixed checkpoint URI is configured."""
        return self.checkpoint_uri is not None

    def get_checkpoint_uri(self) -> str:
        """The configured checkpoint URI.

        Raises:
            ValueError: when none is configured (check ``has_checkpoint()`` first).
        """
        if self.checkpoint_uri is None:
            raise ValueError("checkpoint_uri is not set")
        return self.checkpoint_uri


if TYPE_CHECKING:

    class ModelHyperparameters(HyperparametersBase):
        """Type checkers see a plain subclass; at runtime the fields come from the bundled trainer's spec."""

else:
    ModelHyperparameters = default_hyperparameters_model()
