"""The stack sizes the training role's grants from the rendered definition, branches included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from constructs_lib.config.errors import ConfigError
from constructs_lib.grants.definition_facts import EcrRepository, encrypts_training_volume, training_image_repositories

CPU_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8.0-cpu-py312"


def training(name: str, image: str = CPU_IMAGE, **resources: Any) -> dict[str, Any]:
    arguments = {"AlgorithmSpecification": {"TrainingImage": image}, "ResourceConfig": resources}
    return {"Name": name, "Type": "Training", "Arguments": arguments}


def definition(*steps: dict[str, Any]) -> str:
    return json.dumps({"Steps": list(steps)})


def in_a_branch(step: dict[str, Any]) -> dict[str, Any]:
    return {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": [step], "ElseSteps": []}}


def test_a_volume_key_anywhere_means_the_grant() -> None:
    assert not encrypts_training_volume(definition(training("A")))
    assert encrypts_training_volume(definition(training("A", VolumeKmsKeyId="arn:aws:kms:r:1:key/k")))
    assert encrypts_training_volume(definition(training("A"), in_a_branch(training("B", VolumeKmsKeyId="k"))))


def test_pulls_follow_the_images_each_repository_once() -> None:
    gpu = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8.0-gpu-py312"
    pinned = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/trainer@sha256:abc"
    repositories = training_image_repositories(
        definition(training("A"), training("B", gpu), in_a_branch(training("C", pinned)))
    )
    assert repositories == [
        EcrRepository("763104351884", "us-east-1", "pytorch-training"),
        EcrRepository("111122223333", "eu-west-1", "team/trainer"),
    ]
    assert repositories[1].arn("aws") == "arn:aws:ecr:eu-west-1:111122223333:repository/team/trainer"


def test_an_image_outside_ecr_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^training image 'docker.io/pytorch/pytorch:2.8' is not an Amazon ECR"):
        training_image_repositories(definition(training("A", "docker.io/pytorch/pytorch:2.8")))
