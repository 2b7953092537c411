"""UpdateEndpoint's blue/green ``DeploymentConfig``, the two alarms it rolls back on, and data capture.

SageMaker runs the rollout itself: "If any alarms are tripped during a deployment, SageMaker rolls back the
deployment" (API Reference, AutoRollbackConfig). The alarms follow the SageMaker guide's examples
("Auto-Rollback Configuration and Monitoring",
https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html): metrics of
``AWS/SageMaker`` with the dimensions ``EndpointName`` and ``VariantName``, ``Average``, missing data not
breaching. ``ModelLatency`` is in microseconds ("Amazon SageMaker AI metrics in Amazon CloudWatch").
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.automation.deployment_grants import DATA_CAPTURE_PREFIX, EndpointNames
from constructs_lib.config.automation_config import DeploymentSettings

VARIANT_NAME = "AllTraffic"
ALARM_PERIOD = Duration.minutes(1)
ALARM_EVALUATION_PERIODS = 2


def rollback_alarms(
    scope: Construct, names: EndpointNames, settings: DeploymentSettings
) -> tuple[cloudwatch.Alarm, cloudwatch.Alarm]:
    """The two rollback alarms of the SageMaker guide's examples, on the endpoint's variant."""
    dimensions = {"EndpointName": names.endpoint, "VariantName": VARIANT_NAME}

    def alarm(construct_id: str, name: str, metric: str, threshold: float, what: str) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            scope,
            construct_id,
            alarm_name=name,
            alarm_description=f"Rolls back an update of endpoint {names.endpoint}: {what}",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=metric,
                dimensions_map=dimensions,
                statistic="Average",
                period=ALARM_PERIOD,
            ),
            threshold=threshold,
            evaluation_periods=ALARM_EVALUATION_PERIODS,
            datapoints_to_alarm=ALARM_EVALUATION_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    errors = alarm(
        "ErrorRateAlarm",
        names.alarm_names[0],
        "Invocation5XXErrors",
        settings.max_5xx_error_rate,
        f"more than {settings.max_5xx_error_rate:.0%} of invocations answered 5xx",
    )
    # ModelLatency is in microseconds ("Amazon SageMaker AI metrics in Amazon CloudWatch").
    latency = alarm(
        "LatencyAlarm",
        names.alarm_names[1],
        "ModelLatency",
        settings.max_model_latency_ms * 1000,
        f"average model latency above {settings.max_model_latency_ms} ms",
    )
    return errors, latency


def deployment_config(settings: DeploymentSettings, names: EndpointNames) -> dict[str, Any]:
    """UpdateEndpoint's ``DeploymentConfig``: blue/green traffic shifting and auto-rollback on the two alarms."""
    routing: dict[str, Any] = {
        "Type": settings.traffic_routing,
        "WaitIntervalInSeconds": settings.wait_interval_seconds,
    }
    if settings.step_percent is not None:
        size_key = "CanarySize" if settings.traffic_routing == "CANARY" else "LinearStepSize"
        routing[size_key] = {"Type": "CAPACITY_PERCENT", "Value": settings.step_percent}
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": settings.termination_wait_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in names.alarm_names]},
    }


def data_capture_config(
    settings: DeploymentSettings, bucket: s3.IBucket, endpoint_name: str, key: kms.IKey
) -> dict[str, Any]:
    """CreateEndpointConfig's ``DataCaptureConfig``, or empty when capture is off."""
    if settings.data_capture_percent is None:
        return {}
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": settings.data_capture_percent,
        "DestinationS3Uri": f"s3://{bucket.bucket_name}/{DATA_CAPTURE_PREFIX}/{endpoint_name}",
        "KmsKeyId": key.key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
