"""What the stack reads from the rendered pipeline definition to size the training role's grants.

The grants follow the definition rather than a second copy of the builder's rules: the
training role gets ``kms:CreateGrant`` exactly when a training step carries a volume key,
and ECR pull rights on exactly the repositories its training images come from. Steps nested
in a ``Condition`` step's branches count too, so a later step layout changes nothing here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from constructs_lib.config.errors import ConfigError

ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)(?:[:@].+)?$"
)
"""``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` (or ``@<digest>``), as SageMaker pulls it."""


@dataclass(frozen=True)
class EcrRepository:
    """One ECR repository a training step pulls its image from."""

    account: str
    region: str
    name: str

    def arn(self, partition: str) -> str:
        """The repository's ARN (``partition`` may be a CDK token)."""
        return f"arn:{partition}:ecr:{self.region}:{self.account}:repository/{self.name}"


def _walk(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments", {})
            yield from _walk(arguments.get("IfSteps", []))
            yield from _walk(arguments.get("ElseSteps", []))


def training_step_arguments(definition: str) -> list[dict[str, Any]]:
    """The ``Arguments`` (a CreateTrainingJob request) of every ``Training`` step, branches included."""
    steps = json.loads(definition)["Steps"]
    return [step["Arguments"] for step in _walk(steps) if step.get("Type") == "Training"]


def encrypts_training_volume(definition: str) -> bool:
    """True when some training step sets ``ResourceConfig.VolumeKmsKeyId``."""
    steps = training_step_arguments(definition)
    return any("VolumeKmsKeyId" in arguments.get("ResourceConfig", {}) for arguments in steps)


def training_image_repositories(definition: str) -> list[EcrRepository]:
    """The ECR repositories of the training steps' images, each once, in step order.

    Raises:
        ConfigError: when a training image is not an ECR image URI (SageMaker pulls training images from ECR).
    """
    repositories: dict[EcrRepository, None] = {}
    for arguments in training_step_arguments(definition):
        image = arguments["AlgorithmSpecification"]["TrainingImage"]
        match = ECR_IMAGE.match(image) if isinstance(image, str) else None
        if match is None:
            raise ConfigError(
                f"training image {image!r} is not an Amazon ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/"
                "<repository>:<tag>); SageMaker pulls training images from ECR, and the training role is granted "
                "pulls from that repository only"
            )
        repositories[EcrRepository(match["account"], match["region"], match["repository"])] = None
    return list(repositories)
