"""Offline pipeline definition: placeholders, a render cache, and token substitution.

Rendering imports the SageMaker SDK (about a second) and runs its builder. The result
depends only on the ``DefinitionRequest``, the code that renders it and the SDK
version, so it is cached on disk under a key made of exactly those. A cache hit never
imports the SDK. The definition is rendered with ARN-shaped placeholders; the
construct then swaps them for CDK tokens (role ARN, bucket names, key ARN, asset URL).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

from constructs_lib.definition.request import DefinitionRequest

PLACEHOLDER_ACCOUNT = "000000000000"
ROLE_PLACEHOLDER = f"arn:aws:iam::{PLACEHOLDER_ACCOUNT}:role/cdk-placeholder-training-role"
DATA_BUCKET_PLACEHOLDER = "cdk-placeholder-data-bucket"
ARTIFACTS_BUCKET_PLACEHOLDER = "cdk-placeholder-artifacts-bucket"
SOURCE_BUNDLE_PLACEHOLDER = "s3://cdk-placeholder-asset-bucket/cdk-placeholder-sourcedir.tar.gz"
PLACEHOLDER_MARKER = "cdk-placeholder"

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CACHE_DIR_ENV = "PIPELINE_DEFINITION_CACHE_DIR"
CACHE_DISABLE_ENV = "PIPELINE_DEFINITION_CACHE"
RENDERING_SOURCES = (
    *sorted((PACKAGE_DIR / "config").glob("*.py")),
    *sorted((PACKAGE_DIR / "definition").glob("*.py")),
)
"""Code whose change can change a rendered definition; all of it goes into the cache key. What the
definition takes from the trainer (metrics, gate, hyperparameter values) is in the request itself."""
RENDERING_PACKAGES = ("sagemaker", "boto3", "botocore", "pydantic")


def kms_key_placeholder(region: str) -> str:
    """ARN-shaped placeholder for the stage's KMS key."""
    return f"arn:aws:kms:{region}:{PLACEHOLDER_ACCOUNT}:key/cdk-placeholder-key"


@functools.cache
def _code_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in RENDERING_SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for package in RENDERING_PACKAGES:
        digest.update(f"{package}=={importlib.metadata.version(package)}".encode())
    return digest.hexdigest()


def definition_cache_key(request: DefinitionRequest) -> str:
    """Cache key: the request, the rendering code and the SDK and library versions.

    The hyperparameters also go in as the strings SageMaker receives: two trainers may dump the same values
    while their kinds serialize them differently (``"abc"`` as ``str`` or as ``json``).
    """
    digest = hashlib.sha256(_code_fingerprint().encode())
    digest.update(request.model_dump_json().encode())
    digest.update(json.dumps(request.hyperparameters.serialize_config(), sort_keys=True).encode())
    return digest.hexdigest()


def _cache_dir(default: Path | None) -> Path | None:
    if os.environ.get(CACHE_DISABLE_ENV, "").lower() in ("0", "off", "false", "no"):
        return None
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else default


def render_definition_cached(request: DefinitionRequest, cache_dir: Path | None = None) -> str:
    """The rendered definition for ``request``, from the cache in ``cache_dir`` or freshly rendered.

    Set ``PIPELINE_DEFINITION_CACHE=off`` to always render, or ``PIPELINE_DEFINITION_CACHE_DIR``
    to move the cache; without either and without ``cache_dir`` nothing is cached.
    """
    cache_dir = _cache_dir(cache_dir)
    cached = cache_dir / f"{definition_cache_key(request)}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_text(encoding="utf-8")
    from constructs_lib.definition.render import render_pipeline_definition  # noqa: PLC0415  # lazy: a cache hit never imports the SDK

    definition = render_pipeline_definition(request)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(definition, encoding="utf-8")
        temporary.replace(cached)
    return definition


def substitute_placeholders(definition: str, replacements: dict[str, str]) -> str:
    """Swap each placeholder for its CDK token string.

    Raises:
        ValueError: when a placeholder is absent from the definition, or one is left over.
    """
    for placeholder, token in replacements.items():
        if placeholder not in definition:
            raise ValueError(f"placeholder {placeholder!r} not found in the rendered definition")
        definition = definition.replace(placeholder, token)
    if PLACEHOLDER_MARKER in definition:
        raise ValueError("the rendered definition still holds a placeholder that no CDK token replaced")
    return definition
