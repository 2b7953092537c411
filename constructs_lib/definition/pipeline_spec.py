"""The pipeline's shape as plain data: parameter and step names, the gate metric, what is recorded.

``sdk_builder`` turns these into SageMaker SDK objects; tests, checks and docs read them without
importing the SDK. The names are the ones the team agreed on; the metric names come from the
trainer's spec (``DefinitionRequest.gate_metric``), so the gate reads exactly what the trainer logs.
"""

from __future__ import annotations

from typing import Any

TRAINING_STEP_NAME = "ModelTraining"
QUALITY_GATE_STEP_NAME = "QualityGate"
QUALITY_GATE_FAILED_STEP_NAME = "QualityGateFailed"
REGISTER_MODEL_STEP_NAME = "RegisterModel"
"""The ``ModelStep``'s name. The SDK renders its single step as ``RegisterModel-RegisterModel``, Type
``RegisterModel``; the execution lists that name, and its ``Metadata.RegisterModel.Arn`` is the version."""

INPUT_DATA_URI_PARAMETER = "InputDataUri"
QUALITY_THRESHOLD_PARAMETER = "QualityThreshold"
MODEL_APPROVAL_STATUS_PARAMETER = "ModelApprovalStatus"

SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
"""The PyTorch inference container loads ``code/inference.py`` from the extracted ``model.tar.gz``:
a plain ``Model`` with this environment registers the training job's artifact as it is (no repack job)."""
REQUEST_CONTENT_TYPES = ("text/csv", "application/json")
RESPONSE_CONTENT_TYPES = ("application/json", "text/csv")

GATE_METRIC_KEY = "QualityGateMetric"
THRESHOLD_KEY = QUALITY_THRESHOLD_PARAMETER
TRAINING_JOB_KEY = "TrainingJobName"
"""Customer metadata keys of a registered version, next to one key per recorded metric Name."""


def channel_prefix(channel: str) -> str:
    """Relative S3 prefix of a channel's folder under the input prefix, e.g. ``train/``.

    The trailing slash matters: S3 matches a channel's ``S3Uri`` as a plain key prefix, so
    ``train`` would also match ``train-old/...``, and ``train/train.parquet`` would miss the
    ``part-00000-*.parquet`` files of a sharded export.
    """
    return f"{channel}/"


def fail_message_values(metric_name: str, value: Any, threshold: Any) -> list[Any]:
    """The parts of the ``QualityGateFailed`` message; ``value`` and ``threshold`` are pipeline expressions."""
    return [
        f"Quality gate failed: {metric_name} = ",
        value,
        f" is below {QUALITY_THRESHOLD_PARAMETER} = ",
        threshold,
        "; the model was not registered.",
    ]
