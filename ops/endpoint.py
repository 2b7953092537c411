"""``make deploy-model`` and ``make endpoint``: the stage's real-time endpoint, by hand.

``deploy-model`` runs the same deployment as an approval, for rollbacks to an earlier version: it invokes the
stage's deployer function (stack output ``DeployerFunctionName``) synchronously with the version's ARN, so the
same role, the same checks (approved versions of the stage's group only) and the same alerts apply.

``endpoint`` shows what the endpoint serves: its status, each variant's model version, instances and weight,
a pending blue/green deployment, the last failure, and the recent invocations and 4xx/5xx errors from
CloudWatch (``AWS/SageMaker``, dimensions ``EndpointName`` and ``VariantName``: "Amazon SageMaker AI metrics
in Amazon CloudWatch", https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from ops.aws import OperatorError, StageAws, error_message, one_line
from ops.models import describe_version, resolve_version
from ops.stages import make_hint

ENDPOINT_OUTPUT = "EndpointName"
FUNCTION_OUTPUT = "DeployerFunctionName"
DEPLOYED_STATUSES = frozenset({"creating", "updating", "unchanged"})
ERROR_WINDOW = timedelta(hours=1)
ERROR_PERIOD_SECONDS = 300
ERROR_METRICS = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors")


def deployment_output(aws: StageAws, key: str) -> str:
    """A deployment output; a stage without ``deployment`` says how to turn it on."""
    if key not in aws.outputs():
        raise OperatorError(
            f'stage {aws.stage.name} has no endpoint deployment: add "deployment" (and "notifications") to the '
            f"stage in cdk.json, then {make_hint('deploy', aws.stage)}"
        )
    return aws.outputs()[key]


def deploy_model(aws: StageAws, version: int, out: TextIO) -> int:
    """Deploy approved ``version`` of the stage's group to its endpoint through the deployer function."""
    function = deployment_output(aws, FUNCTION_OUTPUT)
    package = describe_version(aws, resolve_version(aws, version))
    if package.status != "Approved":
        raise OperatorError(
            f"version {version} is {package.status}; only approved versions are deployed: "
            f"{make_hint('approve', aws.stage, f'VERSION={version}')} first"
        )
    request = {"action": "deploy", "model_package_arn": package.arn, "requested_by": aws.caller_identity()["Arn"]}
    response = aws.client("lambda").invoke(
        FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
    )
    payload = response["Payload"].read().decode() if "Payload" in response else "{}"
    if response.get("FunctionError"):
        detail = json.loads(payload).get("errorMessage", payload) if payload.startswith("{") else payload
        raise OperatorError(f"the deployer function {function} failed: {one_line(str(detail))}")
    outcome = json.loads(payload)
    print(outcome.get("message", payload), file=out)
    if outcome.get("status") in ("creating", "updating"):
        print(f"follow it with {make_hint('endpoint', aws.stage)}; the outcome also goes to the alerts topic", file=out)
    return 0 if outcome.get("status") in DEPLOYED_STATUSES else 1


def served_version(aws: StageAws, config_name: str) -> str:
    """``version 3`` (or the model package) behind an endpoint configuration's first variant."""
    sagemaker = aws.client("sagemaker")
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    except ClientError as error:
        return f"unknown ({error_message(error)})"
    package = str((model.get("PrimaryContainer") or {}).get("ModelPackageName", ""))
    tail = package.rsplit("/", 1)[-1]
    return f"version {tail}" if tail.isdigit() else (package or "a model without a package")


def recent_errors(aws: StageAws, endpoint: str, variant: str, now: datetime) -> dict[str, float]:
    """Sum of invocations and 4xx/5xx errors of one variant over the last hour."""
    cloudwatch = aws.client("cloudwatch")
    sums = {}
    for metric in ERROR_METRICS:
        response = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            StartTime=now - ERROR_WINDOW,
            EndTime=now,
            Period=ERROR_PERIOD_SECONDS,
            Statistics=["Sum"],
        )
        sums[metric] = sum(point.get("Sum", 0.0) for point in response.get("Datapoints", []))
    return sums


def show_endpoint(aws: StageAws, out: TextIO, now: datetime | None = None) -> int:
    """Print the endpoint's status, what each variant serves, and its errors of the last hour."""
    name = deployment_output(aws, ENDPOINT_OUTPUT)
    try:
        endpoint: dict[str, Any] = aws.client("sagemaker").describe_endpoint(EndpointName=name)
    except ClientError as error:
        if "could not find endpoint" in error_message(error).lower():
            print(
                f"endpoint {name} does not exist yet: it is created when a version is approved "
                f"({make_hint('approve', aws.stage, 'VERSION=n')}) or deployed "
                f"({make_hint('deploy-model', aws.stage, 'VERSION=n')})",
                file=out,
            )
            return 0
        raise
    print(
        f"endpoint {name}: {endpoint['EndpointStatus']}  (configuration {endpoint.get('EndpointConfigName')})", file=out
    )
    if endpoint.get("FailureReason"):
        print(f"  last failure: {one_line(endpoint['FailureReason'])}", file=out)
    serving = served_version(aws, str(endpoint.get("EndpointConfigName", "")))
    now = now or datetime.now(UTC)
    for variant in endpoint.get("ProductionVariants", []):
        errors = recent_errors(aws, name, variant["VariantName"], now)
        print(
            f"  variant {variant['VariantName']}: {serving}, {variant.get('CurrentInstanceCount', '?')} instance(s), "
            f"weight {variant.get('CurrentWeight', '?')}; last hour: {errors['Invocations']:.0f} invocations, "
            f"{errors['Invocation4XXErrors']:.0f} 4xx, {errors['Invocation5XXErrors']:.0f} 5xx errors",
            file=out,
        )
    pending = endpoint.get("PendingDeploymentSummary")
    if pending:
        print(
            f"  deploying: {served_version(aws, pending['EndpointConfigName'])} "
            f"(configuration {pending['EndpointConfigName']})",
            file=out,
        )
    return 0
