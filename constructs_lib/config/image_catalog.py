"""What the SageMaker SDK knows about PyTorch images, read without importing it; and ECR image URIs.

The SDK ships ``image_uri_config/pytorch.json``: for each framework version of the training and
the inference image, its Python versions and the regions that host it. Config validation reads
that file directly (a ``find_spec`` lookup does not import the SDK), so a bad ``cdk.json`` is
reported in milliseconds and with the same knowledge the SDK uses when it renders the image URI.

The SDK's catalog stops growing after SDK v2's end of support, so a stage may pin any image by
URI instead; ``parse_ecr_image_uri`` reads the account, region and repository out of it, which is
what the ECR pull grant needs.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ECR_IMAGE_URI_PATTERN = (
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9]+([._/-][a-z0-9]+)*)(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@sha256:[0-9a-f]{64})$"
)
"""An Amazon ECR image, by tag or by digest: ``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>``."""
PY_VERSION_IN_TAG = re.compile(r"(?:^|-)(py3\d+)(?:-|$)")
ImageScope = Literal["training", "inference"]


class ImageCatalogError(RuntimeError):
    """The SageMaker SDK's image catalog cannot be found (the SDK is not installed)."""


@dataclass(frozen=True)
class PyTorchImages:
    """Framework versions of one PyTorch image scope, with their Python versions and regions."""

    scope: ImageScope
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
        """ARN of the ECR repository holding the image for this version and region."""
        version = self.resolve(framework_version) or framework_version
        account = self.registries[version][region]
        return f"arn:{partition}:ecr:{region}:{account}:repository/{self.repositories[version]}"

    @property
    def all_regions(self) -> frozenset[str]:
        """Every region that hosts some image of this scope."""
        return frozenset().union(*self.regions.values())

    def supported_versions(self, region: str) -> list[str]:
        """Framework versions whose image exists in ``region``, oldest first."""
        return [version for version, regions in self.regions.items() if region in regions]

    def version_problem(self, framework_version: str, py_version: str, region: str) -> tuple[str, str] | None:
        """``(field, detail)`` when the pair has no image in ``region``; None when it has one."""
        version = self.resolve(framework_version)
        if version is None or region not in self.regions[version]:
            valid = ", ".join(self.supported_versions(region))
            return "framework_version", f"{framework_version!r} has no PyTorch {self.scope} image in {region}; " + (
                f"valid there: {valid}"
            )
        if py_version not in self.py_versions[version]:
            valid = ", ".join(self.py_versions[version])
            return "py_version", f"{py_version!r} does not pair with framework_version {framework_version}; " + (
                f"valid: {valid}"
            )
        return None


@dataclass(frozen=True)
class EcrImage:
    """An Amazon ECR image URI, taken apart."""

    account: str
    region: str
    repository: str
    tag: str | None

    def repository_arn(self, partition: str = "aws") -> str:
        """ARN of the repository, the resource of ``ecr:BatchGetImage`` and friends."""
        return f"arn:{partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"

    @property
    def py_version(self) -> str | None:
        """The ``py3NN`` part of a Deep Learning Container tag (``2.8.0-gpu-py312-cu129-...``), if any."""
        match = PY_VERSION_IN_TAG.search(self.tag or "")
        return match.group(1) if match else None


def check_ecr_image_uri(uri: str) -> str:
    """Pydantic validator: ``uri`` must be an Amazon ECR image URI.

    Raises:
        ValueError: naming the expected form.
    """
    if parse_ecr_image_uri(uri) is None:
        raise ValueError(
            "not an Amazon ECR image URI; expected <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> "
            "(or @sha256:<digest>)"
        )
    return uri


def parse_ecr_image_uri(uri: str) -> EcrImage | None:
    """The parts of an ECR image URI, or None when ``uri`` is not one."""
    match = re.match(ECR_IMAGE_URI_PATTERN, uri)
    if match is None:
        return None
    return EcrImage(match["account"], match["region"], match["repository"], match["tag"])


def _catalog_path() -> Path:
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        raise ImageCatalogError("the SageMaker Python SDK is not installed; run `make venv`")
    return Path(next(iter(spec.submodule_search_locations))) / "image_uri_config" / "pytorch.json"


@functools.cache
def pytorch_images(scope: ImageScope) -> PyTorchImages:
    """Load one scope of the SDK's PyTorch image catalog (cached per process)."""
    raw: dict[str, Any] = json.loads(_catalog_path().read_text(encoding="utf-8"))[scope]
    versions: dict[str, Any] = raw["versions"]
    return PyTorchImages(
        scope=scope,
        version_aliases=dict(raw.get("version_aliases", {})),
        py_versions={version: tuple(entry.get("py_versions", ())) for version, entry in versions.items()},
        regions={version: frozenset(entry.get("registries", {})) for version, entry in versions.items()},
        registries={version: dict(entry.get("registries", {})) for version, entry in versions.items()},
        repositories={version: entry.get("repository", f"pytorch-{scope}") for version, entry in versions.items()},
    )


def pytorch_training_images() -> PyTorchImages:
    """The SDK's PyTorch training image catalog."""
    return pytorch_images("training")


def pytorch_inference_images() -> PyTorchImages:
    """The SDK's PyTorch inference image catalog (its own versions: it stops at 2.6.0 in SDK 2.257)."""
    return pytorch_images("inference")
