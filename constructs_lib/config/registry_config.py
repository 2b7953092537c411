"""Typed settings of a stage's model registry: the group, the quality gate, the registered image.

A stage sets these in ``cdk.json`` under ``registry``. They become the defaults of the pipeline's
``QualityThreshold`` and ``ModelApprovalStatus`` parameters, the ``AWS::SageMaker::ModelPackageGroup``
of the stack, and the inference specification of every registered model version.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from constructs_lib.config.api_shapes import REAL_TIME_INSTANCE_TYPES, TRANSFORM_INSTANCE_TYPES, unknown_values
from constructs_lib.config.model_config import EcrImageUri
from constructs_lib.config.strict_model import StrictModel

MODEL_PACKAGE_GROUP_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
"""CreateModelPackageGroup's ``ModelPackageGroupName``: 1-63 letters, digits and hyphens."""
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9\-]+\.[a-z0-9]+$"
PENDING = "PendingManualApproval"
APPROVED = "Approved"
DEFAULT_INSTANCE_TYPES = ("ml.m5.large",)
InstanceType = Annotated[str, Field(pattern=INSTANCE_TYPE_PATTERN)]


class RegistrySettings(StrictModel):
    """Model registry: the package group, the quality gate and the image registered versions serve in."""

    model_package_group_name: str | None = Field(
        None,
        pattern=MODEL_PACKAGE_GROUP_PATTERN,
        description="Model package group that versions are registered in; defaults to `<stage>-pytorch-models`.",
    )
    approval_status: Literal["PendingManualApproval", "Approved"] = Field(
        "PendingManualApproval",
        description="Default of the ModelApprovalStatus parameter. PendingManualApproval: the pipeline role may "
        "register only pending versions (IAM condition), so no run can auto-approve; Approved: runs may "
        "register approved or pending versions.",
    )
    quality_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Default of the QualityThreshold parameter: a model is registered only if its gate metric (for "
        "the bundled trainer: Test AUC ROC, or Selected Validation AUC ROC when the stage declares no test channel) "
        "is at least this. Unset: the trainer's own threshold (0.7 for the bundled trainer).",
    )
    inference_instance_types: list[InstanceType] = Field(
        default_factory=lambda: list(DEFAULT_INSTANCE_TYPES),
        min_length=1,
        description="Real-time endpoint instance types a registered version supports; all CPU or all GPU "
        "(one inference image serves them).",
    )
    transform_instance_types: list[InstanceType] = Field(
        default_factory=lambda: list(DEFAULT_INSTANCE_TYPES),
        min_length=1,
        description="Batch transform instance types a registered version supports; same processor kind as above.",
    )
    inference_framework_version: str = Field(
        "2.6.0",
        pattern=r"^\d+\.\d+(\.\d+)?$",
        description="PyTorch version of the SageMaker inference image (the SDK's catalog has its own versions, "
        "up to 2.6.0 in SDK 2.257); validated against the catalog for the stage's region.",
    )
    inference_py_version: str = Field(
        "py312",
        pattern=r"^py3\d+$",
        description="Python version of the inference image; must pair with inference_framework_version, and be one "
        "the trainer's serving code runs on (py310 or later for the bundled trainer).",
    )
    inference_image_uri: EcrImageUri | None = Field(
        None,
        description="Inference image override, an Amazon ECR image URI (as model.image_uri) in the stage's region; "
        "then the two settings above are not used.",
    )

    @field_validator("inference_instance_types", "transform_instance_types")
    @classmethod
    def _known_to_the_api(cls, values: list[str], info: ValidationInfo) -> list[str]:
        """CreateModelPackage rejects types outside its enums, at run time, after training."""
        shape = REAL_TIME_INSTANCE_TYPES if info.field_name == "inference_instance_types" else TRANSFORM_INSTANCE_TYPES
        problems = unknown_values(values, shape)
        if problems:
            raise ValueError(f"not a SageMaker {shape}: {'; '.join(problems)}")
        return values

    @property
    def allowed_approval_statuses(self) -> tuple[str, ...]:
        """``ModelApprovalStatus`` values the pipeline role may register with (its IAM condition)."""
        return (PENDING, APPROVED) if self.approval_status == APPROVED else (PENDING,)
