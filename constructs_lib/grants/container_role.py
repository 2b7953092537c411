"""Statements every SageMaker container role needs: pull its image, write its logs, put its metrics.

Shared by the training role and the endpoint's inference role, which differ only in the log group,
the streams and the metric namespace. Log-group ARNs take the form with a trailing ``:*``: "Use this
version to refer to the ARN in IAM policies when specifying permissions for most API actions. The
exception is when specifying permissions for TagResource, UntagResource, and ListTagsForResource"
(CloudWatch Logs API Reference, "LogGroup",
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogGroup.html).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam


def image_pull_statements(sid: str, repository_arns: Sequence[str]) -> list[iam.PolicyStatement]:
    """Pull from ``repository_arns`` (statement ``sid``), plus the registry login (``EcrLogin``)."""
    return [
        iam.PolicyStatement(
            sid=sid,
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resources=list(repository_arns),
        ),
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
    ]


def log_and_metric_statements(
    sid_prefix: str, log_group_arn: str, stream_pattern: str, metrics_namespace: str
) -> list[iam.PolicyStatement]:
    """``<prefix>LogGroup``, ``<prefix>LogStreams`` (streams matching ``stream_pattern``) and ``<prefix>Metrics``
    (``PutMetricData`` in ``metrics_namespace`` only; the action takes no resource, hence ``*``)."""
    return [
        iam.PolicyStatement(
            sid=f"{sid_prefix}LogGroup",
            actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            resources=[f"{log_group_arn}:*"],
        ),
        iam.PolicyStatement(
            sid=f"{sid_prefix}LogStreams",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group_arn}:log-stream:{stream_pattern}"],
        ),
        iam.PolicyStatement(
            sid=f"{sid_prefix}Metrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": metrics_namespace}},
        ),
    ]
