"""Errors reported to the user as one message per problem, without a traceback.

Every error about a setting names it by its path and says what is valid. In ``cdk.json`` the path
is ``cdk.json: context.stages.<stage>.<field>: …``; on a construct it is
``<construct path>: <prop>: …`` (``PropsError``). Whoever finds the problem (pydantic, the
construct, the SDK renderer) raises a ``FieldError`` with the path relative to the props, and the
boundary that knows where the setting came from puts it into one of those two forms.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

CONFIG_FILE = "cdk.json"


class ConfigError(ValueError):
    """Invalid configuration; the message names each bad field or file and what is valid."""


class FieldError(ValueError):
    """A model validator's finding about one field, given relative to the model (``model.py_version``).

    ``stage_config`` reads ``field`` back from pydantic's error context to build the full path.
    """

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class PropsError(ConfigError):
    """Invalid props of a construct: one line per problem, ``<construct path>: <prop>: <what is valid>``.

    Attributes:
        construct: the construct's path in the app.
        problems: ``(prop path, detail)`` pairs, e.g. ``("model.instance_type", "...")``.
    """

    def __init__(self, construct: str, problems: list[tuple[str, str]]) -> None:
        super().__init__("\n".join(f"{construct}: {field}: {detail}" for field, detail in problems))
        self.construct = construct
        self.problems = problems


def validation_problems(
    error: ValidationError,
    example: Callable[[tuple[int | str, ...]], str] | None = None,
    reference: str = "the props reference",
) -> list[tuple[str, str]]:
    """``(field path, detail)`` for each error pydantic found, in the one message style.

    A model validator's ``FieldError`` puts its field into the path; unknown keys say to check the
    spelling against ``reference`` in README.md; a missing field says ``required`` plus what
    ``example`` gives for its location; the offending value is shown unless it is a whole object or absent.
    """
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"] if part != "")
        message = item["msg"].removeprefix("Value error, ")
        found = item.get("ctx", {}).get("error")
        if isinstance(found, FieldError):  # a model validator's finding about one field: put it in the path
            location, message = ".".join(p for p in (location, found.field) if p), found.detail
        if item["type"] == "extra_forbidden":
            message = f"unknown key (check the spelling; see {reference} in README.md)"
        if item["type"] == "missing":
            message = f"required{example(item['loc']) if example else ''}"
        given = item.get("input")
        hidden = item["type"] in ("extra_forbidden", "missing") or isinstance(given, dict)
        problems.append((location, message if hidden else f"{message} (got {given!r})"))
    return problems


def stage_field_path(stage: str, field: str, source: str = CONFIG_FILE) -> str:
    """``cdk.json: context.stages.<stage>.<field>``: where a user finds a stage setting."""
    return f"{source}: context.stages.{stage}.{field}"


def stage_error(stage: str, field: str, detail: str) -> ConfigError:
    """A ``ConfigError`` in the one path form, for checks made outside pydantic."""
    return ConfigError(f"{stage_field_path(stage, field)}: {detail}")
