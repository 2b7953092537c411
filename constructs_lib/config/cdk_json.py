"""Reading ``cdk.json``: the file must parse, and unknown keys are reported as typos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from constructs_lib.config.errors import ConfigError

CDK_JSON_KEYS = frozenset(
    {
        "app",
        "context",
        "watch",
        "build",
        "output",
        "requireApproval",
        "versionReporting",
        "pathMetadata",
        "assetMetadata",
        "toolkitStackName",
        "toolkitBucket",
        "profile",
        "plugin",
        "rollback",
        "notices",
        "language",
        "debug",
        "hotswap",
        "lookups",
        "progress",
        "staging",
        "ci",
    }
)
"""Top-level keys the CDK CLI understands in ``cdk.json``."""
APP_CONTEXT_KEYS = frozenset({"stages", "stage"})
CDK_CONTEXT_PREFIXES = ("@aws-cdk", "aws-cdk:", "@aws-cdk-containers", "cdk-migrate", "acknowledged-issue-numbers")


def read_cdk_json_context(path: Path) -> dict[str, Any]:
    """The ``context`` object of ``cdk.json``, after checking the file for unknown keys.

    Raises:
        ConfigError: when the file is missing, is not JSON, or has an unknown key.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: not found at {path}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path.name}: not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path.name}: must be a JSON object")
    problems = [f"{path.name}: {key}: unknown top-level key" for key in document if key not in CDK_JSON_KEYS]
    context = document.get("context", {})
    if not isinstance(context, dict):
        raise ConfigError(f"{path.name}: context: must be an object")
    problems += [
        f"{path.name}: context.{key}: unknown key; valid: {', '.join(sorted(APP_CONTEXT_KEYS))} "
        "(or a CDK feature flag starting with @aws-cdk)"
        for key in context
        if key not in APP_CONTEXT_KEYS and not key.startswith(CDK_CONTEXT_PREFIXES)
    ]
    if problems:
        raise ConfigError("\n".join(problems))
    return context
