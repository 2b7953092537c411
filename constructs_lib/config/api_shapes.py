"""Values the SageMaker API itself accepts, read from botocore's copy of the service model.

Some settings reach the API only when a pipeline runs: the training step sends the training instance
type to ``CreateTrainingJob``, and ``RegisterModel`` sends the inference and transform instance types
to ``CreateModelPackage`` after the whole training job. A typo there would fail the run, so synth
checks them against the same enums the API validates with (``TrainingInstanceType``,
``ProductionVariantInstanceType``, ``TransformInstanceType``). botocore comes with boto3, a synth
dependency, and reads its model from disk: no network.
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

from botocore.loaders import Loader  # type: ignore[import-untyped]  # botocore ships no type stubs

REAL_TIME_INSTANCE_TYPES = "ProductionVariantInstanceType"
TRANSFORM_INSTANCE_TYPES = "TransformInstanceType"
TRAINING_INSTANCE_TYPES = "TrainingInstanceType"


@functools.cache
def sagemaker_shapes() -> dict[str, Any]:
    """The ``shapes`` of botocore's SageMaker service model (loaded once per process)."""
    shapes: dict[str, Any] = Loader().load_service_model("sagemaker", "service-2")["shapes"]
    return shapes


def enum_values(shape: str) -> frozenset[str]:
    """The values of one enum shape, e.g. ``ProductionVariantInstanceType``."""
    return frozenset(sagemaker_shapes()[shape]["enum"])


def unknown_values(values: list[str], shape: str) -> list[str]:
    """Each value the enum lacks, with the closest valid values as a hint (empty: all valid)."""
    valid = enum_values(shape)
    problems = []
    for value in values:
        if value not in valid:
            close = difflib.get_close_matches(value, sorted(valid), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"see the {shape} values in the SageMaker API"
            problems.append(f"{value!r} ({hint})")
    return problems
