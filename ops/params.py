"""``PARAMS="Name=value ..."``: checked against the deployed pipeline's parameters before anything starts.

SageMaker only finds a bad value once the step that uses it runs (an unknown name is rejected at
start, a float in an Integer parameter fails a step minutes later), so every value is checked here
against the parameter's declared type. ``InputDataUri`` must also lie under the stage's input root,
the only prefix the training role may read.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping

from ops.aws import OperatorError
from ops.definition import Parameter

INPUT_URI_PARAMETER = "InputDataUri"
MAX_VALUE_LENGTH = 1024
"""StartPipelineExecution ``PipelineParameters[].Value``: at most 1024 characters
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Parameter.html)."""
BOOLEAN_TEXT = {"true": "True", "false": "False"}
"""The SageMaker SDK sends a Boolean value as ``str(bool)``: ``True``/``False``."""


def parse_assignments(text: str) -> dict[str, str]:
    """``"A=1 B='x y'"`` -> ``{"A": "1", "B": "x y"}`` (shell quoting).

    Raises:
        OperatorError: for an item without ``=``, an empty name or a name given twice.
    """
    try:
        items = shlex.split(text)
    except ValueError as error:
        raise OperatorError(f"PARAMS: cannot split {text!r}: {error}") from None
    assignments: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise OperatorError(f'PARAMS: {item!r} is not Name=value (e.g. PARAMS="QualityThreshold=0.8")')
        if name in assignments:
            raise OperatorError(f"PARAMS: {name} is given twice")
        assignments[name] = value
    return assignments


def check_value(parameter: Parameter, value: str) -> str:
    """The value normalised for its type.

    Raises:
        OperatorError: naming the parameter, its type and what would be valid.
    """
    problem = f"PARAMS: {parameter.name}={value!r} is not a valid {parameter.type}"
    if len(value) > MAX_VALUE_LENGTH:
        raise OperatorError(f"PARAMS: {parameter.name}: at most {MAX_VALUE_LENGTH} characters (got {len(value)})")
    if parameter.type == "Integer":
        try:
            return str(int(value))
        except ValueError:
            raise OperatorError(f"{problem}: give a whole number such as 3") from None
    if parameter.type == "Float":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise OperatorError(f"{problem}: give a finite number such as 0.75")
        return value.strip()
    if parameter.type == "Boolean":
        if value.strip().lower() not in BOOLEAN_TEXT:
            raise OperatorError(f"{problem}: give true or false")
        return BOOLEAN_TEXT[value.strip().lower()]
    if parameter.choices and value not in parameter.choices:
        raise OperatorError(f"{problem}: valid: {', '.join(parameter.choices)}")
    return value


def check_input_uri(value: str, root: str) -> str:
    """``InputDataUri`` normalised (no trailing slash); it must be ``root`` or a folder under it.

    Raises:
        OperatorError: naming the allowed prefix.
    """
    normalised = value.strip().rstrip("/")
    if normalised != root and not normalised.startswith(f"{root}/"):
        raise OperatorError(
            f"PARAMS: {INPUT_URI_PARAMETER}={value!r} must be {root} or a folder under {root}/ "
            "(the only prefix the training role may read)"
        )
    return normalised


def check_assignments(assignments: Mapping[str, str], declared: Mapping[str, Parameter], root: str) -> dict[str, str]:
    """The values to start with, each checked against the deployed pipeline's parameters.

    Raises:
        OperatorError: for an unknown name (listing the declared ones) or a bad value.
    """
    checked: dict[str, str] = {}
    for name, value in assignments.items():
        if name not in declared:
            listing = ", ".join(f"{p.name} ({p.type})" for p in declared.values()) or "none"
            raise OperatorError(f"PARAMS: unknown parameter {name!r}; the deployed pipeline takes: {listing}")
        checked[name] = check_value(declared[name], value)
        if name == INPUT_URI_PARAMETER:
            checked[name] = check_input_uri(checked[name], root)
    return checked


def effective_values(declared: Mapping[str, Parameter], given: Mapping[str, str]) -> dict[str, str]:
    """What each parameter will be in the run: the given value, else the deployed default."""
    values = {name: p.default for name, p in declared.items() if p.default is not None}
    return {**values, **given}
