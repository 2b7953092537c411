"""``DefinitionRequest``s for the renderer's unit tests: one stage-like request, varied by keyword."""

from __future__ import annotations

import json
from typing import Any

from constructs_lib.config.default_trainer import default_trainer
from constructs_lib.config.model_config import ModelConfig, ModelHyperparameters
from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.config.stage_config import NetworkSettings, RetrySettings
from constructs_lib.definition.render_cache import ROLE_PLACEHOLDER, SOURCE_BUNDLE_PLACEHOLDER, kms_key_placeholder
from constructs_lib.definition.request import DefinitionRequest, trainer_fields
from tests.conftest import step_named

REGION = "us-east-1"
REQUEST_FIELDS = ("channels", "registry", "network", "hyperparameters")


def make_request(**settings: Any) -> DefinitionRequest:
    """A request of the bundled trainer; ``channels``, ``registry``, ``network`` and ``hyperparameters``
    go to the request, every other keyword to its ``ModelConfig``."""
    request_fields = {key: settings.pop(key) for key in REQUEST_FIELDS if key in settings}
    request_fields.setdefault("hyperparameters", ModelHyperparameters(epochs=7, feature_columns=["f0", "f1"]))
    request_fields.setdefault("network", NetworkSettings())
    trainer = default_trainer()
    channels = tuple(request_fields.pop("channels", trainer.channels))
    threshold = request_fields.get("registry", RegistrySettings()).quality_threshold
    request_fields = {**trainer_fields(trainer, channels, threshold), **request_fields}
    return DefinitionRequest(
        pipeline_name="unit-pipeline",
        model_package_group_name="unit-models",
        region=REGION,
        role_arn=ROLE_PLACEHOLDER,
        kms_key_arn=kms_key_placeholder(REGION),
        model=ModelConfig(
            entry_point=trainer.entry_point,
            source_dir=SOURCE_BUNDLE_PLACEHOLDER,
            input_path="s3://data-bucket/training-data",
            output_path="s3://artifacts-bucket/training-output",
            **settings,
        ),
        retries=RetrySettings(max_attempts=4, interval_seconds=30, backoff_rate=1.5),
        **request_fields,
    )


def training_step(definition: str) -> dict[str, Any]:
    """The ``ModelTraining`` step of a rendered definition."""
    return step_named(json.loads(definition), "ModelTraining")
