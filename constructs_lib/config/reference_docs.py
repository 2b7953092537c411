"""Generate the README's config reference from the pydantic models.

    python -m constructs_lib.config.reference_docs --write README.md   # rewrite the section in place
    python -m constructs_lib.config.reference_docs --check README.md   # exit 1 if it is out of date

The section sits between ``<!-- config-reference:start -->`` and ``<!-- config-reference:end -->``.
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
from constructs_lib.config.model_config import ModelHyperparameters, ModelSettings
from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.config.stage_config import NetworkSettings, RetrySettings, StageConfig, StorageSettings

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
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


def _describe(annotation: Any) -> str:
    """A short, readable name of a type annotation."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _describe(args[0])
    if origin is list:
        return f"list[{_describe(args[0])}]"
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is Literal:
        return "one of " + ", ".join(f"`{arg}`" for arg in args)
    if annotation is type(None):
        return "null"
    return str(getattr(annotation, "__name__", annotation))


def _item_metadata(annotation: Any) -> list[Any]:
    """Constraints on the items of a ``list[Annotated[...]]`` annotation."""
    if get_origin(annotation) is not list:
        return []
    (item,) = get_args(annotation)
    if get_origin(item) is not Annotated:
        return []
    return [meta for extra in get_args(item)[1:] for meta in getattr(extra, "metadata", [extra])]


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]  # our factories take no arguments
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{json.dumps(value)}`"


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


def render_reference() -> str:
    """The markdown tables: one per config object, a row per field."""
    lines = [START, ""]
    for title, model in SECTIONS:
        lines += [f"#### `{title}`", "", (model.__doc__ or "").strip().splitlines()[0], ""]
        lines += ["| field | type | default | valid | description |", "| --- | --- | --- | --- | --- |"]
        for name, field in model.model_fields.items():
            kind = "object" if model is StageConfig and name in NESTED else _describe(field.annotation)
            description = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{name}` | {kind} | {_default(field)} | {_valid(field)} | {description} |")
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def updated_readme(text: str) -> str:
    """``text`` with the section between the markers replaced by a fresh reference."""
    if START not in text or END not in text:
        raise ValueError(f"README must contain {START} and {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + render_reference() + tail


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
