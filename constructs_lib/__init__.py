"""SageMaker PyTorch training pipelines as CDK constructs, from typed props.

    from constructs_lib import SageMakerTrainingPipeline, TrainerSpec

The names below are loaded on first use, so that importing ``constructs_lib.config`` (the operator
CLI, tests) does not start the CDK's jsii runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SageMakerTrainingPipeline": "constructs_lib.training_pipeline",
    "TrainingPipelineProps": "constructs_lib.training_pipeline_props",
    "TrainerSpec": "constructs_lib.config.trainer_spec",
    "Hyperparameter": "constructs_lib.config.hyperparameters",
    "default_trainer": "constructs_lib.config.default_trainer",
    "ModelSettings": "constructs_lib.config.model_config",
    "NetworkSettings": "constructs_lib.config.stage_config",
    "StorageSettings": "constructs_lib.config.stage_config",
    "RetrySettings": "constructs_lib.config.stage_config",
    "RegistrySettings": "constructs_lib.config.registry_config",
    "ConfigError": "constructs_lib.config.errors",
    "PropsError": "constructs_lib.config.errors",
}
__all__ = [
    "ConfigError",
    "Hyperparameter",
    "ModelSettings",
    "NetworkSettings",
    "PropsError",
    "RegistrySettings",
    "RetrySettings",
    "SageMakerTrainingPipeline",
    "StorageSettings",
    "TrainerSpec",
    "TrainingPipelineProps",
    "default_trainer",
]

if TYPE_CHECKING:
    from constructs_lib.config.default_trainer import default_trainer
    from constructs_lib.config.errors import ConfigError, PropsError
    from constructs_lib.config.hyperparameters import Hyperparameter
    from constructs_lib.config.model_config import ModelSettings
    from constructs_lib.config.registry_config import RegistrySettings
    from constructs_lib.config.stage_config import NetworkSettings, RetrySettings, StorageSettings
    from constructs_lib.config.trainer_spec import TrainerSpec
    from constructs_lib.training_pipeline import SageMakerTrainingPipeline
    from constructs_lib.training_pipeline_props import TrainingPipelineProps


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
