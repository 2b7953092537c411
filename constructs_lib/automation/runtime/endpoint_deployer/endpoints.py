"""What an endpoint is and serves, read with the SageMaker API (the calls ``rollout`` and ``report`` share).

Statuses are DescribeEndpoint's ``EndpointStatus`` values (SageMaker API Reference, DescribeEndpoint,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html): ``Failed`` means
"DeleteEndpoint is the only operation that can be performed on a failed endpoint".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from .config import DeployerConfig

BUSY_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})


def error_code(error: ClientError) -> str:
    """The AWS error code of a ``ClientError``."""
    return str(error.response.get("Error", {}).get("Code", ""))


def error_text(error: ClientError) -> str:
    """``Code: message`` on one line."""
    message = " ".join(str(error.response.get("Error", {}).get("Message", "")).split())
    return f"{error_code(error)}: {message}"


def describe_endpoint(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when the endpoint does not exist.

    SageMaker answers a missing endpoint with ``ValidationException`` "Could not find endpoint ..."
    (the API has no ResourceNotFound for it).
    """
    try:
        response: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        if error_code(error) == "ValidationException" and "could not find endpoint" in error_text(error).lower():
            return None
        raise
    return response


@dataclass(frozen=True)
class Served:
    """The model package an endpoint configuration serves."""

    config_name: str
    package_arn: str | None

    @property
    def version(self) -> int | None:
        """The version number, from ``model-package/<group>/<n>``."""
        tail = (self.package_arn or "").rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None

    def is_package(self, package_arn: str) -> bool:
        """Same package, whatever the case of the ARNs (SageMaker lowercases names in ARNs)."""
        return self.package_arn is not None and self.package_arn.lower() == package_arn.lower()


def served_by(sagemaker: Any, config_name: str) -> Served:
    """The package behind a configuration's first variant (None when it is not a package, or not readable)."""
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model_name = config["ProductionVariants"][0]["ModelName"]
        model = sagemaker.describe_model(ModelName=model_name)
    except ClientError:
        return Served(config_name, None)  # a configuration made by hand, outside what the deployer may read
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    return Served(config_name, container.get("ModelPackageName"))


def newest_config(sagemaker: Any, config: DeployerConfig) -> str | None:
    """The newest endpoint configuration the deployer made for its endpoint (its name prefix)."""
    prefix = f"{config.endpoint_name}-v"
    response = sagemaker.list_endpoint_configs(
        NameContains=prefix, SortBy="CreationTime", SortOrder="Descending", MaxResults=10
    )
    names = [c["EndpointConfigName"] for c in response.get("EndpointConfigs", [])]
    ours = [name for name in names if name.startswith(prefix)]
    return ours[0] if ours else None


def version_label(served: Served) -> str:
    """``version 3``, or what the configuration is when it serves no package of ours."""
    return f"version {served.version}" if served.version is not None else f"configuration {served.config_name}"
