"""The ``RegisterModel`` request, as Pipelines will send it, fits ``CreateModelPackage``'s own shapes.

Pipelines resolves the step's expressions only at run time, after the whole training job, and
CreateModelPackage validates its request then. So each value is checked here against botocore's
copy of the API model (the same constraints as "CreateModelPackage", Amazon SageMaker API Reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html):
CustomerMetadataProperties holds 1-50 entries whose keys (1-128) and values (1-256 characters) are
made of ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``; instance types come from their enums.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from constructs_lib.config.api_shapes import (
    REAL_TIME_INSTANCE_TYPES,
    TRANSFORM_INSTANCE_TYPES,
    enum_values,
    sagemaker_shapes,
)
from constructs_lib.definition.checks import all_steps
from constructs_lib.definition.render import render_pipeline_definition
from tests.unit.definition_requests import make_request

METADATA_PUNCTUATION = frozenset("_.:/=+-@")
RUN_TIME_VALUES = {
    "Steps.ModelTraining.TrainingJobName": "pipelines-a1b2c3d4e5f6-modeltraining-x7y8z9w0v1",
    "Parameters.QualityThreshold": "0.75",
    "FinalMetricDataList": "0.912345",  # a metric's value as Pipelines turns a float into a string
    "Execution.PipelineExecutionArn": (
        "arn:aws:sagemaker:ap-southeast-2:123456789012:pipeline/"
        + "p" * 256  # the longest pipeline name SageMaker allows
        + "/execution/a1b2c3d4e5f6"
    ),
}
"""What each expression in the request becomes at run time (the longest plausible forms)."""


def metadata_text_ok(text: str, longest: int) -> bool:
    """botocore's ``CustomerMetadataKey``/``Value`` pattern: letters (L), separators (Z), numbers (N), ``_.:/=+-@``."""
    allowed = all(unicodedata.category(ch)[0] in "LZN" or ch in METADATA_PUNCTUATION for ch in text)
    return allowed and 1 <= len(text) <= longest


def run_time_text(value: Any) -> str:
    """A literal, or the text an expression (``Get`` or ``Std:Join`` of them) resolves to."""
    if isinstance(value, str):
        return value
    if "Std:Join" in value:
        join = value["Std:Join"]
        return str(join["On"]).join(run_time_text(part) for part in join["Values"])
    source = value["Get"]
    known = [text for prefix, text in RUN_TIME_VALUES.items() if prefix in source]
    assert known, f"no run-time value modelled for {source}"
    return known[0]


@pytest.fixture(scope="module", params=["cpu-with-test", "gpu-without-test"])
def register_arguments(request: pytest.FixtureRequest) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if request.param == "gpu-without-test":
        settings = {"instance_type": "ml.g5.xlarge", "channels": ("train", "val")}
    definition = json.loads(render_pipeline_definition(make_request(**settings)))
    (step,) = [step for step in all_steps(definition["Steps"]) if step["Type"] == "RegisterModel"]
    arguments: dict[str, Any] = step["Arguments"]
    return arguments


def test_customer_metadata_fits_the_api(register_arguments: dict[str, Any]) -> None:
    properties = register_arguments["CustomerMetadataProperties"]
    limit = sagemaker_shapes()["CustomerMetadataMap"]["max"]
    assert 1 <= len(properties) <= limit
    for key, value in properties.items():
        assert metadata_text_ok(key, 128), f"key {key!r}"
        assert metadata_text_ok(run_time_text(value), 256), f"value of {key!r}: {run_time_text(value)!r}"


def test_a_key_outside_the_pattern_is_caught() -> None:
    """Negative case: a metric Name such as ``Validation AUC (ROC)`` would fail at run time."""
    assert not metadata_text_ok("Validation AUC (ROC)", 128)
    assert not metadata_text_ok("x" * 129, 128)


def test_instance_types_and_enums_are_the_api_values(register_arguments: dict[str, Any]) -> None:
    specification = register_arguments["InferenceSpecification"]
    assert set(specification["SupportedRealtimeInferenceInstanceTypes"]) <= enum_values(REAL_TIME_INSTANCE_TYPES)
    assert set(specification["SupportedTransformInstanceTypes"]) <= enum_values(TRANSFORM_INSTANCE_TYPES)
    skip = register_arguments.get("SkipModelValidation")
    assert skip is None or skip in enum_values("SkipModelValidation")
    description = run_time_text(register_arguments["ModelPackageDescription"])
    assert len(description) <= sagemaker_shapes()["EntityDescription"]["max"]
