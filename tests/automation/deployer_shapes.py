"""SageMaker and SNS responses shaped like the real ones, for the deployer's Stubber tests.

botocore's Stubber checks every queued response against the service model's output shape (required
members, types, enums) and every request the code makes against the input shape, so a misspelt member
or a wrong type fails the test. Field meanings: SageMaker API Reference (DescribeModelPackage,
DescribeEndpoint, DescribeEndpointConfig, DescribeModel, ListEndpointConfigs, CreateModel,
CreateEndpointConfig, CreateEndpoint, UpdateEndpoint) and Amazon SNS API Reference (Publish).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from constructs_lib.automation.runtime.endpoint_deployer.config import DeployerConfig

REGION = "us-east-1"
ACCOUNT = "111122223333"
GROUP = "dev-pytorch-models"
ENDPOINT = "dev-endpoint"
T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
STAMP = "20261120030000"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:dev-pytorch-training-alerts"
INFERENCE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/InferenceRole"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
DEPLOYMENT_CONFIG = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600},
        "TerminationWaitInSeconds": 0,
    },
    "AutoRollbackConfiguration": {
        "Alarms": [{"AlarmName": f"{ENDPOINT}-5xx-errors"}, {"AlarmName": f"{ENDPOINT}-model-latency"}]
    },
}


@dataclass(frozen=True)
class Names:
    """Where the stubbed resources live: dev's names by default, a synthesized stack's in the matrix."""

    region: str = REGION
    account: str = ACCOUNT
    endpoint: str = ENDPOINT
    group: str = GROUP

    def arn(self, resource: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}"


DEV = Names()


def config(**overrides: Any) -> DeployerConfig:
    """The deployer's settings as the construct writes them for dev (override any field)."""
    document: dict[str, Any] = {
        "endpoint_name": ENDPOINT,
        "variant_name": "AllTraffic",
        "group_name": GROUP,
        "inference_role_arn": INFERENCE_ROLE,
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "kms_key_arn": KEY,
        "deployment_config": DEPLOYMENT_CONFIG,
        "topic_arn": TOPIC,
        "data_capture": {},
        "tags": [{"Key": "Project", "Value": "sagemaker-pytorch-training"}, {"Key": "Stage", "Value": "dev"}],
        "deploy_hint": "make deploy-model STAGE=dev VERSION=",
        **overrides,
    }
    return DeployerConfig.from_json(json.dumps(document))


def package_arn(version: int, names: Names = DEV) -> str:
    """A version's ARN as SageMaker writes it (group name lowercased)."""
    return names.arn(f"model-package/{names.group.lower()}/{version}")


def model_package(
    version: int, status: str = "Approved", group: str | None = None, names: Names = DEV
) -> dict[str, Any]:
    """DescribeModelPackage of a registered version."""
    group = group or names.group
    return {
        "ModelPackageName": group,
        "ModelPackageGroupName": group,
        "ModelPackageVersion": version,
        "ModelPackageArn": package_arn(version, names),
        "CreationTime": T0,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://artifacts/training-output/pipelines-abc-ModelTraining-x{version}/output/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json", "text/csv"],
        },
    }


def config_name(version: int, stamp: str = STAMP, names: Names = DEV) -> str:
    return f"{names.endpoint}-v{version}-{stamp}"


def endpoint(
    status: str, config: str, pending: str | None = None, failure: str | None = None, names: Names = DEV
) -> dict[str, Any]:
    """DescribeEndpoint."""
    response: dict[str, Any] = {
        "EndpointName": names.endpoint,
        "EndpointArn": names.arn(f"endpoint/{names.endpoint.lower()}"),
        "EndpointConfigName": config,
        "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}],
        "EndpointStatus": status,
        "CreationTime": T0,
        "LastModifiedTime": T0,
    }
    if pending:
        response["PendingDeploymentSummary"] = {"EndpointConfigName": pending}
    if failure:
        response["FailureReason"] = failure
    return response


def endpoint_config(name: str, names: Names = DEV) -> dict[str, Any]:
    """DescribeEndpointConfig of a configuration the deployer made (its model has the same name)."""
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": names.arn(f"endpoint-config/{name.lower()}"),
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
        "CreationTime": T0,
    }


def model(name: str, version: int, names: Names = DEV) -> dict[str, Any]:
    """DescribeModel of a model created from a package version."""
    return {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": package_arn(version, names)},
        "ExecutionRoleArn": INFERENCE_ROLE,
        "CreationTime": T0,
        "ModelArn": names.arn(f"model/{name.lower()}"),
    }


def endpoint_configs(*config_names: str, names: Names = DEV) -> dict[str, Any]:
    """ListEndpointConfigs, newest first."""
    return {
        "EndpointConfigs": [
            {
                "EndpointConfigName": name,
                "EndpointConfigArn": names.arn(f"endpoint-config/{name.lower()}"),
                "CreationTime": T0,
            }
            for name in config_names
        ]
    }


def missing_endpoint(names: Names = DEV) -> ClientError:
    """What DescribeEndpoint answers for an endpoint that does not exist."""
    message = f'Could not find endpoint "{names.arn(f"endpoint/{names.endpoint.lower()}")}".'
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "DescribeEndpoint")


def approval_event(version: int, status: str = "Approved") -> dict[str, Any]:
    """The documented "SageMaker Model Package State Change" event, for a version of the group."""
    return {
        "version": "0",
        "id": "844e2571-85d4-695f-b930-0153b71dcb42",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "2026-11-20T03:00:00Z",
        "region": REGION,
        "resources": [package_arn(version)],
        "detail": {
            "ModelPackageGroupName": GROUP,
            "ModelPackageVersion": version,
            "ModelPackageArn": package_arn(version),
            "ModelApprovalStatus": status,
            "ModelPackageStatus": "Completed",
        },
    }


def endpoint_event(status: str = "IN_SERVICE", config: str = "x") -> dict[str, Any]:
    """The documented "SageMaker Endpoint State Change" event (status written like ``IN_SERVICE``)."""
    return {
        "version": "0",
        "id": "d2921b5a-b0ad-cace-a8e3-0f159d018e06",
        "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": "1583831889050",
        "region": REGION,
        "resources": [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"],
        "detail": {"EndpointName": ENDPOINT, "EndpointConfigName": config, "EndpointStatus": status, "Tags": {}},
    }
