"""Reading the DEPLOYED pipeline definition: its parameters and the S3 channels of its training steps.

The CLI follows whatever is deployed rather than a list of its own, so a parameter or channel the
definition adds (or a stage drops) needs no change here. A definition is the JSON that
DescribePipeline returns (``PipelineDefinition``): ``Parameters`` is ``[{Name, Type, DefaultValue}]``
and a training step's channel URI is a string or a pipeline expression such as
``{"Std:Join": {"On": "/", "Values": [{"Get": "Parameters.InputDataUri"}, "train/"]}}``. Expressions
that only exist at run time (step properties, execution variables) cannot be checked before a run
and are reported as such.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ops.aws import OperatorError

PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
"""The parameter types SageMaker Pipelines supports ("Pipeline parameters", SageMaker AI Developer
Guide, https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-parameters.html)."""


@dataclass(frozen=True)
class Parameter:
    """A pipeline parameter: name, type (one of ``PARAMETER_TYPES``), default as a string, and the
    values a String parameter is limited to (``EnumValues``; empty: any)."""

    name: str
    type: str
    default: str | None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channel:
    """An input channel of a training step, with its S3 URI resolved for one set of parameter values."""

    step: str
    name: str
    uri: str
    data_type: str


def parameter_text(value: Any) -> str:
    """A JSON default as the string a start request carries: ``str(value)``, as the SageMaker SDK's
    ``format_start_parameters`` sends it (``0.7`` -> ``"0.7"``, ``true`` -> ``"True"``)."""
    return str(value)


def parameters(definition: Mapping[str, Any]) -> dict[str, Parameter]:
    """The definition's parameters by name."""
    found: dict[str, Parameter] = {}
    for item in definition.get("Parameters") or []:
        default = item.get("DefaultValue")
        found[item["Name"]] = Parameter(
            name=item["Name"],
            type=item.get("Type", "String"),
            default=None if default is None else parameter_text(default),
            choices=tuple(str(choice) for choice in item.get("EnumValues") or ()),
        )
    return found


def iter_steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every step, including those nested in a Condition step's ``IfSteps``/``ElseSteps``."""
    for step in steps:
        yield step
        arguments = step.get("Arguments") or {}
        for branch in ("IfSteps", "ElseSteps"):
            yield from iter_steps(arguments.get(branch) or [])


def _input_data_config(definition: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for step in iter_steps(definition.get("Steps") or []):
        if step.get("Type") == "Training":
            for channel in (step.get("Arguments") or {}).get("InputDataConfig") or []:
                yield step["Name"], channel


def channel_names(definition: Mapping[str, Any]) -> list[str]:
    """The channel names the training steps declare, in order, without duplicates."""
    names = [channel["ChannelName"] for _, channel in _input_data_config(definition)]
    return list(dict.fromkeys(names))


def channels(definition: Mapping[str, Any], values: Mapping[str, str]) -> list[Channel]:
    """Every S3 channel of every training step, its URI resolved with ``values`` (parameter name -> value).

    Raises:
        OperatorError: when a URI uses an expression that cannot be resolved before the run.
    """
    found = []
    for step, channel in _input_data_config(definition):
        source = (channel.get("DataSource") or {}).get("S3DataSource")
        if source is None:
            continue  # file-system channels (EFS/FSx) have no S3 prefix to check
        where = f"step {step}, channel {channel['ChannelName']}"
        found.append(
            Channel(
                step=step,
                name=channel["ChannelName"],
                uri=resolve(source["S3Uri"], values, where),
                data_type=source.get("S3DataType", "S3Prefix"),
            )
        )
    return found


def resolve(expression: Any, values: Mapping[str, str], where: str) -> str:
    """The string a pipeline expression evaluates to: literals, ``Get: Parameters.X`` and ``Std:Join``.

    Raises:
        OperatorError: naming ``where`` and the expression, for any other form.
    """
    if isinstance(expression, str | int | float) and not isinstance(expression, bool):
        return str(expression)
    if isinstance(expression, dict) and set(expression) == {"Get"}:
        reference = str(expression["Get"])
        name = reference.removeprefix("Parameters.")
        if reference.startswith("Parameters.") and name in values:
            return values[name]
        raise OperatorError(
            f"{where}: its S3 URI uses {{'Get': {reference!r}}}, which is not a pipeline parameter known "
            "before the run; the CLI can only check URIs built from parameters and literals"
        )
    if isinstance(expression, dict) and set(expression) == {"Std:Join"}:
        join = expression["Std:Join"]
        return str(join.get("On", "")).join(resolve(item, values, where) for item in join.get("Values", []))
    raise OperatorError(
        f"{where}: its S3 URI uses an expression the CLI cannot resolve before the run ({expression!r}); "
        "known forms: a string, {'Get': 'Parameters.<name>'} and {'Std:Join': {...}}"
    )


def split_s3_uri(uri: str, where: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``.

    Raises:
        OperatorError: naming ``where`` when ``uri`` is not an ``s3://`` URI with a bucket.
    """
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise OperatorError(f"{where}: {uri!r} is not an s3://bucket/key URI")
    return bucket, key
