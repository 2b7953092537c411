"""Generate the README's config and props references from the pydantic models.

    python -m constructs_lib.config.reference_docs --write README.md   # rewrite the sections in place
    python -m constructs_lib.config.reference_docs --check README.md   # exit 1 if one is out of date

The ``cdk.json`` reference sits between ``<!-- config-reference:start -->`` and
``<!-- config-reference:end -->``; the construct's props reference between
``<!-- props-reference:start -->`` and ``<!-- props-reference:end -->``.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from constructs_lib.config.automation_config import DeploymentSettings, NotificationSettings, ScheduleSettings
from constructs_lib.config.hyperparameters import Hyperparameter
from constructs_lib.config.model_config import ModelHyperparameters, ModelSettings
from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.config.stage_config import NetworkSettings, RetrySettings, StageConfig, StorageSettings
from constructs_lib.config.trainer_spec import TrainerSpec

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
PROPS_START = "<!-- props-reference:start -->"
PROPS_END = "<!-- props-reference:end -->"
CDK_TYPE = "cdk_type"
"""``json_schema_extra`` key naming a prop's CDK type (an ``Any`` field holding a construct)."""
SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("stages.&lt;name&gt;", StageConfig),
    ("stages.&lt;name&gt;.model", ModelSettings),
    ("stages.&lt;name&gt;.hyperparameters", ModelHyperparameters),
    ("stages.&lt;name&gt;.network", NetworkSettings),
    ("stages.&lt;name&gt;.storage", StorageSettings),
    ("stages.&lt;name&gt;.retries", RetrySettings),
    ("stages.&lt;name&gt;.registry", RegistrySettings),
    ("stages.&lt;name&gt;.schedule", ScheduleSettings),
    ("stages.&lt;name&gt;.notifications", NotificationSettings),
    ("stages.&lt;name&gt;.deployment", DeploymentSettings),
)
NESTED = {title.rsplit(".", 1)[-1] for title, _ in SECTIONS[1:]}


def props_sections() -> tuple[tuple[str, type[BaseModel]], ...]:
    """The construct's props, then the trainer spec and a hyperparameter (the settings objects are above)."""
    from constructs_lib.training_pipeline_props import TrainingPipelineProps  # noqa: PLC0415  # it imports config

    return (
        ("SageMakerTrainingPipeline(scope, id, *, ...)", TrainingPipelineProps),
        ("TrainerSpec", TrainerSpec),
        ("Hyperparameter", Hyperparameter),
    )


def _describe(annotation: Any) -> str:
    """A short, readable name of a type annotation."""
    origin, args = get_origin(annotation), get_args(annotation)
    generic = {
        Annotated: lambda: _describe(args[0]),
        list: lambda: f"list[{_describe(args[0])}]",
        tuple: lambda: f"list[{_describe(args[0])}]",
        dict: lambda: f"dict[{_describe(args[0])}, {_describe(args[1])}]",
        Union: lambda: " or ".join(_describe(arg) for arg in args),
        types.UnionType: lambda: " or ".join(_describe(arg) for arg in args),
        Literal: lambda: "one of " + ", ".join(f"`{arg}`" for arg in args),
    }
    if origin in generic:
        return generic[origin]()
    if annotation is type(None):
        return "null"
    return "any" if annotation is Any else str(getattr(annotation, "__name__", annotation))


def _item_metadata(annotation: Any) -> list[Any]:
    """Constraints on the items of a ``list[Annotated[...]]`` annotation."""
    if get_origin(annotation) is not list:
        return []
    (item,) = get_args(annotation)
    if get_origin(item) is not Annotated:
        return []
    return [meta for extra in get_args(item)[1:] for meta in getattr(extra, "metadata", [extra])]


def _constraints(metadata: list[Any], prefix: str = "") -> list[str]:
    parts: list[str] = []
    bounds = {Ge: (">=", "ge"), Gt: (">", "gt"), Le: ("<=", "le"), Lt: ("<", "lt")}
    for item in metadata:
        for kind, (symbol, attribute) in bounds.items():
            if isinstance(item, kind):
                parts.append(f"{prefix}{symbol} {getattr(item, attribute)}")
        if isinstance(item, MinLen):
            parts.append(f"{prefix}length >= {item.min_length}")
        if isinstance(item, MaxLen):
            parts.append(f"{prefix}length <= {item.max_length}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            parts.append(f"{prefix}matches `{pattern}`")
    return parts


def _valid(field: FieldInfo) -> str:
    parts = _constraints(field.metadata) + _constraints(_item_metadata(field.annotation), prefix="each ")
    if get_origin(field.annotation) is Literal:
        parts.append(" or ".join(f"`{arg}`" for arg in get_args(field.annotation)))
    return ", ".join(parts).replace("|", "\\|") or "-"


def _kind(model: type[BaseModel], name: str, field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if CDK_TYPE in extra:
        return f"{extra[CDK_TYPE]} or null"
    return "object" if model is StageConfig and name in NESTED else _describe(field.annotation)


def _default(model: type[BaseModel], field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]  # our factories take no arguments
    if isinstance(value, TrainerSpec):
        return "the bundled trainer"
    if isinstance(value, BaseModel):
        return "see below" if model is StageConfig else f"`{type(value).__name__}()`"
    return f"`{json.dumps(value, default=str)}`"


def render_reference(
    sections: tuple[tuple[str, type[BaseModel]], ...] = SECTIONS, start: str = START, end: str = END
) -> str:
    """The markdown tables: one per model, a row per field."""
    lines = [start, ""]
    for title, model in sections:
        lines += [f"#### `{title}`", "", (model.__doc__ or "").strip().splitlines()[0], ""]
        lines += ["| field | type | default | valid | description |", "| --- | --- | --- | --- | --- |"]
        for name, field in model.model_fields.items():
            description = (field.description or "").replace("|", "\\|")
            row = (f"`{name}`", _kind(model, name, field), _default(model, field), _valid(field), description)
            lines.append(f"| {' | '.join(row)} |")
        lines.append("")
    lines.append(end)
    return "\n".join(lines)


def _replace(text: str, start: str, end: str, fresh: str) -> str:
    if start not in text or end not in text:
        raise ValueError(f"README must contain {start} and {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + fresh + tail


def updated_readme(text: str) -> str:
    """``text`` with both references replaced by fresh ones."""
    text = _replace(text, START, END, render_reference())
    return _replace(text, PROPS_START, PROPS_END, render_reference(props_sections(), PROPS_START, PROPS_END))


def main(argv: list[str] | None = None) -> int:
    """Write or check the reference section of a README."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)
    path: Path = args.write or args.check
    current = path.read_text(encoding="utf-8")
    fresh = updated_readme(current)
    if args.write:
        path.write_text(fresh, encoding="utf-8")
        return 0
    if fresh != current:
        print(f"{path}: the config reference is out of date; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
