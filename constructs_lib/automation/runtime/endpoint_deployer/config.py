"""The deployer's settings, passed by the construct as one JSON document in ``DEPLOYER_CONFIG``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENVIRONMENT_VARIABLE = "DEPLOYER_CONFIG"


@dataclass(frozen=True)
class DeployerConfig:
    """Where and how to deploy.

    Attributes:
        endpoint_name: the one endpoint this function creates and updates.
        variant_name: its production variant (``AllTraffic``, the name the rollback alarms watch).
        group_name: the model package group whose approved versions it deploys.
        inference_role_arn: the models' execution role.
        instance_type / instance_count: the variant's instances.
        kms_key_arn: the endpoint configuration's ``KmsKeyId``; empty on instance types with local storage.
        deployment_config: UpdateEndpoint's ``DeploymentConfig`` (blue/green and auto-rollback alarms).
        topic_arn: where outcomes are published.
        data_capture: CreateEndpointConfig's ``DataCaptureConfig``, or empty (off).
        tags: tags of what it creates, ``[{"Key": ..., "Value": ...}]``.
        deploy_hint: how an operator deploys a version by hand, e.g. ``make deploy-model STAGE=dev VERSION=``.
    """

    endpoint_name: str
    variant_name: str
    group_name: str
    inference_role_arn: str
    instance_type: str
    instance_count: int
    kms_key_arn: str
    deployment_config: Mapping[str, Any]
    topic_arn: str
    data_capture: Mapping[str, Any] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    deploy_hint: str = ""

    @classmethod
    def from_json(cls, text: str) -> DeployerConfig:
        """Parse the document the construct wrote."""
        document: dict[str, Any] = json.loads(text)
        return cls(**document)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> DeployerConfig:
        """Read ``DEPLOYER_CONFIG``.

        Raises:
            KeyError: when the variable is missing (the function was not deployed by the construct).
        """
        return cls.from_json(environ[ENVIRONMENT_VARIABLE])

    def name_for(self, version: int, stamp: str) -> str:
        """A model's and endpoint configuration's name: ``<endpoint>-v<version>-<stamp>``."""
        return f"{self.endpoint_name}-v{version}-{stamp}"
