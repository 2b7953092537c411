"""Lambda entry point: route an event to a deployment or a state report, and publish the outcome.

Three inputs:

* "SageMaker Model Package State Change" for an ``Approved`` version of the group (the approval rule):
  deploy it;
* "SageMaker Endpoint State Change" of the endpoint: report what it serves now;
* ``{"action": "deploy", "model_package_arn": ..., "requested_by": ...}`` from ``make deploy-model``
  (a synchronous invoke, for rollbacks to an earlier approved version): deploy it.

A SageMaker error is an outcome (published, and returned); anything else raises, so the asynchronous
invocation fails and Lambda sends the event to the function's dead-letter topic, the same alerts topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from .config import DeployerConfig
from .report import report_endpoint
from .rollout import Outcome, deploy_version, failure

MODEL_PACKAGE_EVENT = "SageMaker Model Package State Change"
ENDPOINT_EVENT = "SageMaker Endpoint State Change"
MAX_SUBJECT = 100
"""SNS Publish ``Subject``: at most 100 printable ASCII characters, no line breaks (SNS API Reference, Publish)."""


@dataclass
class Clients:
    """The AWS clients the deployer uses (tests pass stubbed ones)."""

    sagemaker: Any
    sns: Any
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def default_clients() -> Clients:
    """Clients in the function's region, with its role's credentials."""
    return Clients(boto3.client("sagemaker"), boto3.client("sns"))


def handle(event: dict[str, Any], context: Any = None, clients: Clients | None = None) -> dict[str, Any]:
    """Deploy or report, publish the outcome, and return it."""
    config = DeployerConfig.from_environment()
    clients = clients or default_clients()
    outcome = dispatch(event, config, clients)
    if outcome is None:
        return {"status": "ignored"}
    if outcome.notify:
        publish(clients.sns, config, outcome)
    return outcome.as_dict()


def dispatch(event: dict[str, Any], config: DeployerConfig, clients: Clients) -> Outcome | None:
    """The outcome of one input.

    Raises:
        ValueError: for an input that is none of the three.
    """
    kind = event.get("detail-type")
    if kind == ENDPOINT_EVENT:
        return report_endpoint(clients.sagemaker, config, event.get("detail", {}))
    if kind == MODEL_PACKAGE_EVENT:
        package_arn = str(event.get("detail", {}).get("ModelPackageArn", ""))
    elif event.get("action") == "deploy":
        package_arn = str(event.get("model_package_arn", ""))
    else:
        raise ValueError(f"unexpected input: detail-type {kind!r}, action {event.get('action')!r}")
    if not package_arn:
        raise ValueError("the input names no model package ARN")
    try:
        return deploy_version(clients.sagemaker, config, package_arn, now=clients.now)
    except ClientError as error:
        return failure(config, error, package_arn)


def subject(config: DeployerConfig, outcome: Outcome) -> str:
    """``<endpoint>: <status> version <n>``, within SNS's limits."""
    version = f" version {outcome.version}" if outcome.version is not None else ""
    text = f"{config.endpoint_name}: {outcome.status}{version}"
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:MAX_SUBJECT]


def publish(sns: Any, config: DeployerConfig, outcome: Outcome) -> None:
    """One message to the alerts topic."""
    sns.publish(TopicArn=config.topic_arn, Subject=subject(config, outcome), Message=outcome.message)
