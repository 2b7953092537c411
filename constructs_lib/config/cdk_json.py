"""Reading ``cdk.json``: the file must parse, a key may be written once per object, and unknown keys
are reported as typos.

JSON parsers keep the last of two equal keys ("The names within an object SHOULD be unique", RFC 8259
section 4; Python's ``json`` and the CDK CLI's ``JSON.parse`` both keep the last), so a stage block
written twice would silently lose the first one. ``json``'s ``object_pairs_hook`` sees every pair.
"""

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
        "outputsFile",
        "bundlingStacks",
        "assetParallelism",
        "assetPrebuild",
        "concurrency",
        "roleArn",
        "unstable",
    }
)
"""Top-level keys the CDK CLI understands in ``cdk.json``."""
APP_CONTEXT_KEYS = frozenset({"stages", "stage"})
CDK_CONTEXT_PREFIXES = ("@aws-cdk", "aws-cdk:", "@aws-cdk-containers", "cdk-migrate", "acknowledged-issue-numbers")


def load_json_once_per_key(text: str, name: str) -> Any:
    """``json.loads(text)``, refusing an object that holds the same key twice.

    Raises:
        ConfigError: naming the path of each repeated key (``context.stages.dev``), or the JSON error.
    """
    repeated: list[tuple[dict[str, Any], list[str]]] = []  # the objects stay referenced, so ``is`` is safe

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        twice = []
        for key, value in pairs:
            if key in found:
                twice.append(key)
            found[key] = value
        if twice:
            repeated.append((found, twice))
        return found

    try:
        document = json.loads(text, object_pairs_hook=pairs_hook)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{name}: not valid JSON: {error}") from None
    problems = [
        f"{name}: {'.'.join((*path, key))}: written more than once; JSON keeps only the last, "
        "so the first would be silently dropped: merge them into one, or rename one"
        for path, value in _objects(document, ())
        for obj, keys in repeated
        if obj is value
        for key in dict.fromkeys(keys)
    ]
    if problems:
        raise ConfigError("\n".join(problems))
    return document


def _objects(value: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every JSON object in ``value`` with its path of keys (list items as their index)."""
    found: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    if isinstance(value, dict):
        found.append((path, value))
        for key, item in value.items():
            found += _objects(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _objects(item, (*path, str(index)))
    return found


def read_cdk_json_context(path: Path) -> dict[str, Any]:
    """The ``context`` object of ``cdk.json``, after checking the file for repeated and unknown keys.

    Raises:
        ConfigError: when the file is missing, is not JSON, repeats a key, or has an unknown key.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: not found at {path}") from None
    document = load_json_once_per_key(text, path.name)
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
