"""A trainer's hyperparameters: their specs, the pydantic model generated from them, and serialization.

Each trainer declares its hyperparameters (``Hyperparameter``: kind, default, bounds); a stage's
values are validated by a pydantic model generated from exactly those specs, so a consumer's trainer
is checked against its own names and ranges, never the bundled trainer's. SageMaker passes every
value to the script as a string (``--name value``); ``serialize_hyperparameter`` writes that string:
strings as they are, lists and JSON values as compact JSON, bools as ``true``/``false``, numbers by
``repr`` so floats round-trip exactly (the bundled trainer's ``contract.parse_value`` reads it back).
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, JsonValue, create_model, model_validator

from constructs_lib.config.strict_model import StrictModel

HyperparameterKind = Literal["int", "float", "bool", "str", "list[str]", "list[int]", "list[float]", "json"]
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}
_BOUND_CHECKS: dict[str, Callable[[float, float], bool]] = {
    "ge": lambda value, bound: value >= bound,
    "le": lambda value, bound: value <= bound,
    "gt": lambda value, bound: value > bound,
    "lt": lambda value, bound: value < bound,
}


class Hyperparameter(StrictModel):
    """One hyperparameter of a trainer: its type, default, meaning and valid range."""

    kind: HyperparameterKind = Field(
        ...,
        description="Value type: int, float, bool, str, list[str], list[int], list[float], or json (any JSON value).",
    )
    default: Any = Field(..., description="Value when the stage sets none; must be of `kind`.")
    description: str = Field("", description="What it does (shown in generated docs).")
    minimum: int | float | None = Field(None, description="Inclusive lower bound (numbers, and each item of a list).")
    maximum: int | float | None = Field(None, description="Inclusive upper bound.")
    exclusive_minimum: int | float | None = Field(None, description="Strict lower bound.")
    exclusive_maximum: int | float | None = Field(None, description="Strict upper bound.")
    choices: tuple[str | int | float, ...] | None = Field(
        None, description='The only values allowed (scalar kinds), e.g. `["auto", "memory", "stream"]`.'
    )

    @model_validator(mode="after")
    def _default_is_of_kind(self) -> Hyperparameter:
        problem = value_problem(self, self.default)
        if problem:
            raise ValueError(f"default {self.default!r}: {problem}")
        return self

    @property
    def bounds(self) -> dict[str, int | float]:
        """Pydantic's ``ge``/``le``/``gt``/``lt`` for the bounds that are set."""
        named = {"ge": self.minimum, "le": self.maximum, "gt": self.exclusive_minimum, "lt": self.exclusive_maximum}
        return {key: value for key, value in named.items() if value is not None}


def infer_hyperparameter(value: Any) -> Any:
    """A ``Hyperparameter`` whose kind is the JSON type of ``value``: a spec may give defaults only.

    A ``Hyperparameter`` or a mapping with ``kind`` and ``default`` is returned as it is, for pydantic.
    """
    if isinstance(value, Hyperparameter) or (isinstance(value, Mapping) and {"kind", "default"} <= set(value)):
        return value
    kind: HyperparameterKind = "json"
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind = "float"
    elif isinstance(value, str):
        kind = "str"
    elif isinstance(value, list | tuple) and value:
        value = list(value)
        if all(isinstance(item, str) for item in value):
            kind = "list[str]"
        elif all(isinstance(item, int) and not isinstance(item, bool) for item in value):
            kind = "list[int]"
        elif all(isinstance(item, int | float) and not isinstance(item, bool) for item in value):
            kind = "list[float]"
    return Hyperparameter(kind=kind, default=value)


def value_problem(spec: Hyperparameter, value: Any) -> str | None:
    """Why ``value`` is not a valid value of ``spec`` (None: valid); stage values go through the generated model."""
    if spec.kind == "json":
        return None if _is_json(value) else "not a JSON value (null, bool, number, string, list or object)"
    if spec.choices is not None and value not in spec.choices:
        return f"{value!r} is not one of {', '.join(map(repr, spec.choices))}"
    if spec.kind.startswith("list"):
        if not isinstance(value, list):
            return f"expected a list for kind {spec.kind}"
        item_kind = spec.kind.removeprefix("list[").removesuffix("]")
        return next((p for p in (_scalar_problem(item_kind, spec, item) for item in value) if p), None)
    return _scalar_problem(spec.kind, spec, value)


def _scalar_problem(kind: str, spec: Hyperparameter, value: Any) -> str | None:
    if not isinstance(value, _PYTHON_TYPES[kind]) or (kind != "bool" and isinstance(value, bool)):
        return f"expected {kind}, got {type(value).__name__}"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return "must be finite"
        for name, bound in spec.bounds.items():
            if not _BOUND_CHECKS[name](value, bound):
                return f"{value} is outside the bound {name} {bound}"
    return None


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_json(item) for key, item in value.items())
    return False


def serialize_hyperparameter(spec: Hyperparameter, value: Any) -> str:
    """The string SageMaker passes to the script for one value (see the module docstring)."""
    if spec.kind == "str":
        return str(value)
    if spec.kind == "bool":
        return "true" if value else "false"
    if spec.kind == "int":
        return repr(int(value))
    if spec.kind == "float":
        return repr(float(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


MAX_HYPERPARAMETER_VALUE_LENGTH = 2500
"""CreateTrainingJob.HyperParameters: each value at most 2500 characters (botocore's ``HyperParameterValue``)."""


def hyperparameter_length_problems(values: HyperparametersBase) -> list[tuple[str, str]]:
    """``(name, detail)`` for each value longer than CreateTrainingJob takes, as the request carries it.

    The SageMaker SDK JSON-encodes each string again (``"[\\"a\\",...]"``), so the limit applies to that form;
    a long ``feature_columns`` list passes synth otherwise and fails the first run with a ValidationException.
    """
    problems = []
    for name, text in values.serialize_config().items():
        sent = len(json.dumps(text))
        if sent > MAX_HYPERPARAMETER_VALUE_LENGTH:
            problems.append(
                (
                    name,
                    f"{sent} characters as CreateTrainingJob receives it (JSON-encoded); at most "
                    f"{MAX_HYPERPARAMETER_VALUE_LENGTH}: shorten it",
                )
            )
    return problems


class HyperparametersBase(StrictModel):
    """A trainer's hyperparameter values; subclasses are generated from its specs (``hyperparameters_model``)."""

    specs: ClassVar[Mapping[str, Hyperparameter]] = {}

    def get_config(self) -> dict[str, Any]:
        """The hyperparameters as typed values, in the trainer's order."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.specs}

    def serialize_config(self) -> dict[str, str]:
        """The string map SageMaker passes to the script as ``--name value``."""
        return {name: serialize_hyperparameter(spec, getattr(self, name)) for name, spec in self.specs.items()}


def _annotation(spec: Hyperparameter) -> tuple[Any, dict[str, Any]]:
    """The pydantic annotation and field options of one spec."""
    bounds = spec.bounds
    if spec.kind == "json":
        return JsonValue, {}
    if spec.kind == "list[str]":
        return list[Annotated[str, Field(min_length=1)]], {}
    if spec.kind == "list[int]":
        return list[Annotated[int, Field(strict=True, **bounds)]], {"min_length": 1}
    if spec.kind == "list[float]":
        return list[Annotated[float, Field(allow_inf_nan=False, **bounds)]], {"min_length": 1}
    if spec.choices is not None:
        return Literal[spec.choices], {}  # the only values allowed
    scalar: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str}
    options: dict[str, Any] = dict(bounds)
    if spec.kind in ("int", "bool"):
        options["strict"] = True
    if spec.kind == "float":
        options["allow_inf_nan"] = False
    return scalar[spec.kind], options


def _field_for(spec: Hyperparameter) -> tuple[Any, Any]:
    """A pydantic ``(annotation, FieldInfo)`` pair for one spec."""
    annotation, options = _annotation(spec)
    options["description"] = spec.description
    if isinstance(spec.default, list | dict):
        options["default_factory"] = functools.partial(copy.deepcopy, spec.default)
    else:
        options["default"] = spec.default
    return (annotation, Field(**options))


def hyperparameters_model(
    specs: Mapping[str, Hyperparameter], name: str = "Hyperparameters", doc: str = ""
) -> type[HyperparametersBase]:
    """A pydantic model with one field per spec: unknown names, wrong types and out-of-range values fail."""
    model: type[HyperparametersBase] = create_model(  # type: ignore[call-overload]  # field definitions are built at runtime
        name,
        __base__=HyperparametersBase,
        __doc__=doc or f"Hyperparameters of the trainer ({', '.join(specs) or 'none'}).",
        **{field_name: _field_for(spec) for field_name, spec in specs.items()},
    )
    model.specs = dict(specs)
    return model
