"""Everything that determines a rendered pipeline definition, as one hashable value.

The renderer (``constructs_lib.definition.render``) turns a ``DefinitionRequest`` into the
definition JSON; ``constructs_lib.definition.render_cache`` keys its cache on the request plus the
code and SDK version that render it. What the definition needs of the trainer (its metric regexes,
the gate metric, the metrics recorded on a version, its hyperparameter values) is resolved for the
stage's declared channels before it gets here, so the request names no trainer folder or module.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializeAsAny

from constructs_lib.config.hyperparameters import HyperparametersBase
from constructs_lib.config.model_config import ModelConfig
from constructs_lib.config.registry_config import MODEL_PACKAGE_GROUP_PATTERN, RegistrySettings
from constructs_lib.config.stage_config import NetworkSettings, RetrySettings
from constructs_lib.config.strict_model import StrictModel
from constructs_lib.config.trainer_spec import DEFAULT_CHECKPOINT_LOCAL_PATH, TrainerSpec


class DefinitionRequest(StrictModel):
    """Inputs of one offline rendering of the training pipeline's definition.

    S3 URIs and ARNs here are placeholders shaped like the real thing; the construct
    swaps them for CDK tokens after rendering.
    """

    pipeline_name: str
    region: str
    role_arn: str = Field(..., pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+$")
    kms_key_arn: str = Field(..., pattern=r"^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:key/.+$")
    model: ModelConfig
    hyperparameters: SerializeAsAny[HyperparametersBase]
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    channels: tuple[str, ...] = Field(..., min_length=1)
    metric_definitions: dict[str, str] = Field(..., min_length=1)
    gate_metric: str
    recorded_metrics: tuple[str, ...]
    quality_threshold: float
    checkpoint_local_path: str = DEFAULT_CHECKPOINT_LOCAL_PATH
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    model_package_group_name: str = Field(..., pattern=MODEL_PACKAGE_GROUP_PATTERN)


def trainer_fields(
    trainer: TrainerSpec, channels: tuple[str, ...], quality_threshold: float | None = None
) -> dict[str, Any]:
    """The request's fields that come from the trainer, for the stage's declared ``channels``.

    ``quality_threshold`` is the stage's own, when it sets one; else the trainer's applies.

    Raises:
        FieldError: (``channels``) when the trainer logs none of its gate metrics with these channels.
    """
    return {
        "channels": channels,
        "metric_definitions": dict(trainer.metric_definitions),
        "gate_metric": trainer.gate_metric_for(channels),
        "recorded_metrics": trainer.recorded_metrics_for(channels),
        "quality_threshold": trainer.quality_threshold if quality_threshold is None else quality_threshold,
        "checkpoint_local_path": trainer.checkpoint_local_path,
    }
