"""Deploy one approved model package version: a model, an endpoint configuration, then the endpoint.

* The version must belong to the configured group and be ``Approved`` now: the approval event may be stale
  (approved, then rejected) and ``make deploy-model`` may name any version, so DescribeModelPackage decides.
* CreateModel from the package: "ModelPackageName - The name or Amazon Resource Name (ARN) of the model
  package to use to create the model" (SageMaker API Reference, ContainerDefinition); the package brings its
  image, artifact and environment.
* CreateEndpointConfig with one variant, ``KmsKeyId`` only on instance types without local storage ("If you
  specify a value for KmsKeyId when using any nitro-based instances with local storage, the call to
  CreateEndpointConfig fails", API Reference, CreateEndpointConfig), and data capture when configured.
* CreateEndpoint when there is none; otherwise UpdateEndpoint with ``DeploymentConfig``: a blue/green update
  whose traffic shifting and auto-rollback alarms SageMaker runs itself ("If any alarms are tripped during
  a deployment, SageMaker rolls back the deployment", API Reference, AutoRollbackConfig). The outcome of an
  update arrives later, as an endpoint state change (``report``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from .config import DeployerConfig
from .endpoints import BUSY_STATUSES, Served, describe_endpoint, error_text, served_by, version_label

APPROVED = "Approved"


@dataclass(frozen=True)
class Outcome:
    """What happened, for the caller and for the alerts topic.

    Attributes:
        status: ``creating``, ``updating``, ``unchanged``, ``in-progress``, ``refused``, ``failed``, ``live``,
            ``rolled-back``.
        message: one paragraph an operator can act on.
        notify: whether it goes to the alerts topic (a duplicate event's no-op does not).
    """

    status: str
    message: str
    version: int | None = None
    notify: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The function's return value."""
        return {"status": self.status, "message": self.message, "version": self.version, **self.details}


def stamp(now: Callable[[], datetime]) -> str:
    """``yyyymmddHHMMSS`` in UTC: names made for the same version stay distinct."""
    return now().astimezone(UTC).strftime("%Y%m%d%H%M%S")


def deploy_version(
    sagemaker: Any, config: DeployerConfig, package_arn: str, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Outcome:
    """Deploy ``package_arn`` to the configured endpoint when it is an approved version of the group."""
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    version = package.get("ModelPackageVersion")
    refusal = _refusal(config, package, version)
    if refusal is not None:
        return refusal
    endpoint = describe_endpoint(sagemaker, config.endpoint_name)
    live = served_by(sagemaker, str(endpoint.get("EndpointConfigName", ""))) if endpoint else None
    if endpoint is not None and live is not None:
        blocked = _blocked(sagemaker, config, endpoint, live, package_arn=package_arn, version=version)
        if blocked is not None:
            return blocked
    name = config.name_for(int(version), stamp(now))
    _create_model(sagemaker, config, name, package_arn)
    _create_endpoint_config(sagemaker, config, name)
    if endpoint is None:
        sagemaker.create_endpoint(EndpointName=config.endpoint_name, EndpointConfigName=name, **_tags(config))
        return Outcome(
            "creating",
            f"endpoint {config.endpoint_name}: creating it with version {version} ({config.instance_count} x "
            f"{config.instance_type}, configuration {name}); a message follows when it is InService or Failed.",
            version,
            details={"endpoint_config": name},
        )
    previous = live if live is not None else Served("", None)
    sagemaker.update_endpoint(
        EndpointName=config.endpoint_name, EndpointConfigName=name, DeploymentConfig=dict(config.deployment_config)
    )
    return Outcome(
        "updating",
        f"endpoint {config.endpoint_name}: updating from {version_label(previous)} to version {version} "
        f"({_rollout_words(config)}; configuration {name}); a message follows when it is live or rolled back.",
        version,
        details={"endpoint_config": name},
    )


def _refusal(config: DeployerConfig, package: dict[str, Any], version: Any) -> Outcome | None:
    """Why this version must not be deployed, or None."""
    group = str(package.get("ModelPackageGroupName", ""))
    label = f"{group} version {version}"
    if group.lower() != config.group_name.lower() or version is None:
        return Outcome(
            "refused", f"{package.get('ModelPackageArn')} is not a version of group {config.group_name}; not deployed."
        )
    status = package.get("ModelApprovalStatus", "PendingManualApproval")
    if status != APPROVED:
        return Outcome(
            "refused",
            f"{label} is {status}, not Approved: not deployed to endpoint {config.endpoint_name}. Only approved "
            "versions are deployed.",
            int(version),
        )
    if package.get("ModelPackageStatus", "Completed") != "Completed":
        return Outcome(
            "refused", f"{label} is {package.get('ModelPackageStatus')}, not Completed: not deployed.", int(version)
        )
    return None


def _blocked(
    sagemaker: Any, config: DeployerConfig, endpoint: dict[str, Any], live: Served, *, package_arn: str, version: Any
) -> Outcome | None:
    """Why the endpoint cannot take this version now, or None when it can be updated."""
    status = endpoint["EndpointStatus"]
    pending_name = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    pending = served_by(sagemaker, pending_name) if pending_name else live
    if status == "InService" and live.is_package(package_arn):
        return Outcome("unchanged", f"endpoint {config.endpoint_name} already serves version {version}.", int(version))
    if status in BUSY_STATUSES and pending.is_package(package_arn):
        return Outcome(
            "in-progress",
            f"endpoint {config.endpoint_name} is already {status} to version {version} (a repeated event).",
            int(version),
            notify=False,
        )
    if status == "Failed":
        reason = endpoint.get("FailureReason", "no reason given")
        return Outcome(
            "refused",
            f"endpoint {config.endpoint_name} is Failed ({reason}); SageMaker can only delete a failed endpoint: "
            f"delete it (aws sagemaker delete-endpoint --endpoint-name {config.endpoint_name}), then "
            f"{config.deploy_hint}{version}. Version {version} was not deployed.",
            int(version),
        )
    if status != "InService":
        return Outcome(
            "refused",
            f"endpoint {config.endpoint_name} is {status}: version {version} was not deployed. When it is InService, "
            f"run {config.deploy_hint}{version}.",
            int(version),
        )
    return None


def _create_model(sagemaker: Any, config: DeployerConfig, name: str, package_arn: str) -> None:
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"ModelPackageName": package_arn},
        ExecutionRoleArn=config.inference_role_arn,
        **_tags(config),
    )


def _create_endpoint_config(sagemaker: Any, config: DeployerConfig, name: str) -> None:
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": config.variant_name,
                "ModelName": name,
                "InstanceType": config.instance_type,
                "InitialInstanceCount": config.instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
        **_tags(config),
    }
    if config.kms_key_arn:
        request["KmsKeyId"] = config.kms_key_arn
    if config.data_capture:
        request["DataCaptureConfig"] = dict(config.data_capture)
    sagemaker.create_endpoint_config(**request)


def _tags(config: DeployerConfig) -> dict[str, Any]:
    return {"Tags": list(config.tags)} if config.tags else {}


def _rollout_words(config: DeployerConfig) -> str:
    """The update's rollout in words, e.g. ``blue/green ALL_AT_ONCE, baking 600 s, rolls back on alarm ...``."""
    policy = config.deployment_config.get("BlueGreenUpdatePolicy", {})
    routing = policy.get("TrafficRoutingConfiguration", {})
    alarms = [a["AlarmName"] for a in config.deployment_config.get("AutoRollbackConfiguration", {}).get("Alarms", [])]
    words = f"blue/green {routing.get('Type')}, baking {routing.get('WaitIntervalInSeconds')} s"
    return f"{words}, rolls back if {' or '.join(alarms)} fires" if alarms else words


def failure(config: DeployerConfig, error: ClientError, package_arn: str) -> Outcome:
    """A SageMaker error while deploying, as an outcome (nothing is retried: the operator decides)."""
    version = package_arn.rsplit("/", 1)[-1]
    return Outcome(
        "failed",
        f"endpoint {config.endpoint_name}: deploying version {version} failed: {error_text(error)} "
        f"({error.operation_name}). Retry with {config.deploy_hint}{version}.",
        int(version) if version.isdigit() else None,
    )
