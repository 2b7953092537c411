"""Endpoint state changes as outcomes: live, rolled back, or failed.

SageMaker sends "SageMaker Endpoint State Change" events whose ``EndpointStatus`` is written like
``IN_SERVICE`` ("Events that Amazon SageMaker AI sends to Amazon EventBridge", Endpoint state change,
https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html), and "may send
multiple events to EventBridge for each state change". So the event only says *when* to look: the state
reported is DescribeEndpoint's, and events of transitional states are ignored.

After an update, an ``InService`` endpoint that does not serve the newest configuration the deployer made
was rolled back: SageMaker "initiates a complete rollback to the old endpoint" when an alarm trips during
the deployment (SageMaker guide, "Auto-Rollback Configuration and Monitoring").
"""

from __future__ import annotations

from typing import Any

from .config import DeployerConfig
from .endpoints import BUSY_STATUSES, describe_endpoint, newest_config, served_by, version_label
from .rollout import Outcome

REPORTED_STATES = frozenset({"inservice", "failed", "updaterollbackfailed", "outofservice"})


def normalized(status: str) -> str:
    """``IN_SERVICE`` and ``InService`` alike: ``inservice``."""
    return status.replace("_", "").lower()


def report_endpoint(sagemaker: Any, config: DeployerConfig, detail: dict[str, Any]) -> Outcome | None:
    """The outcome an endpoint state change stands for, or None when there is nothing to report."""
    if normalized(str(detail.get("EndpointStatus", ""))) not in REPORTED_STATES:
        return None
    endpoint = describe_endpoint(sagemaker, config.endpoint_name)
    if endpoint is None or endpoint["EndpointStatus"] in BUSY_STATUSES:
        return None  # deleted since, or already moving again: a later event reports it
    status = endpoint["EndpointStatus"]
    live = served_by(sagemaker, str(endpoint.get("EndpointConfigName", "")))
    name = config.endpoint_name
    if status == "InService":
        newest = newest_config(sagemaker, config)
        if newest and newest != live.config_name:
            attempted = served_by(sagemaker, newest)
            reason = endpoint.get("FailureReason") or "a rollback alarm fired or the new fleet did not become healthy"
            return Outcome(
                "rolled-back",
                f"endpoint {name}: the update to {version_label(attempted)} was rolled back ({reason}); it still "
                f"serves {version_label(live)}. See the endpoint's alarms and its /aws/sagemaker/Endpoints/{name} "
                "logs.",
                attempted.version,
            )
        return Outcome("live", f"endpoint {name} is InService with {version_label(live)}.", live.version)
    reason = endpoint.get("FailureReason", "no reason given")
    return Outcome(
        "failed",
        f"endpoint {name} is {status}: {reason}. A Failed endpoint can only be deleted (aws sagemaker delete-endpoint "
        f"--endpoint-name {name}); then deploy a version with {config.deploy_hint}<n>.",
        live.version,
    )
