"""What the SageMaker SDK knows about PyTorch training images, read without importing it.

The SDK ships ``image_uri_config/pytorch.json``: for each framework version its Python
versions and the regions that host the image. Config validation reads that file directly
(a ``find_spec`` lookup does not import the SDK), so a bad ``cdk.json`` is reported in
milliseconds and with the same knowledge the SDK uses when it renders the image URI.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ImageCatalogError(RuntimeError):
    """The SageMaker SDK's image catalog cannot be found (the SDK is not installed)."""


@dataclass(frozen=True)
class PyTorchTrainingImages:
    """Framework versions of the PyTorch training image, with their Python versions and regions."""

    version_aliases: dict[str, str]
    py_versions: dict[str, tuple[str, ...]]
    regions: dict[str, frozenset[str]]
    registries: dict[str, dict[str, str]]
    repositories: dict[str, str]

    def resolve(self, framework_version: str) -> str | None:
        """The full version for ``framework_version`` (``2.8`` -> ``2.8.0``), or None if unknown."""
        if framework_version in self.py_versions:
            return framework_version
        return self.version_aliases.get(framework_version)

    def repository_arn(self, framework_version: str, region: str, partition: str = "aws") -> str:
        """ARN of the ECR repository holding the training image for this version and region."""
        version = self.resolve(framework_version) or framework_version
        account = self.registries[version][region]
        return f"arn:{partition}:ecr:{region}:{account}:repository/{self.repositories[version]}"

    @property
    def all_regions(self) -> frozenset[str]:
        """Every region that hosts some PyTorch training image."""
        return frozenset().union(*self.regions.values())

    def supported_versions(self, region: str) -> list[str]:
        """Framework versions whose image exists in ``region``, oldest first."""
        return [version for version, regions in self.regions.items() if region in regions]


def _catalog_path() -> Path:
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        raise ImageCatalogError("the SageMaker Python SDK is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "image_uri_config" / "pytorch.json"


@functools.cache
def pytorch_training_images() -> PyTorchTrainingImages:
    """Load the SDK's PyTorch training image catalog (cached per process)."""
    raw: dict[str, Any] = json.loads(_catalog_path().read_text(encoding="utf-8"))["training"]
    versions: dict[str, Any] = raw["versions"]
    return PyTorchTrainingImages(
        version_aliases=dict(raw.get("version_aliases", {})),
        py_versions={version: tuple(entry.get("py_versions", ())) for version, entry in versions.items()},
        regions={version: frozenset(entry.get("registries", {})) for version, entry in versions.items()},
        registries={version: dict(entry.get("registries", {})) for version, entry in versions.items()},
        repositories={version: entry.get("repository", "pytorch-training") for version, entry in versions.items()},
    )
