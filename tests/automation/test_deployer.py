"""The deployer Lambda's logic against botocore's Stubber: every request checked against SageMaker's and
SNS's input shapes, every response against their output shapes (``deployer_shapes.py``).

Covered: the first deployment (create), an update (blue/green with the rollback alarms), an update that
SageMaker rolls back (reported from the endpoint's state change), an update that goes live, a rejected
version (never deployed, even when the approval event is stale), and the endpoint states that refuse a
deployment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import ANY, Stubber

from constructs_lib.automation.runtime.endpoint_deployer import handler
from constructs_lib.automation.runtime.endpoint_deployer.config import ENVIRONMENT_VARIABLE
from constructs_lib.automation.runtime.endpoint_deployer.handler import Clients, dispatch
from tests.automation import deployer_shapes as shapes


class Stubbed:
    """Stubbed SageMaker and SNS clients, and the published messages."""

    def __init__(self) -> None:
        credentials = {"aws_access_key_id": "stub", "aws_secret_access_key": "stub", "region_name": shapes.REGION}
        self.clients = Clients(boto3.client("sagemaker", **credentials), boto3.client("sns", **credentials))
        self.clients.now = lambda: shapes.T0
        self.sagemaker = Stubber(self.clients.sagemaker)
        self.sns = Stubber(self.clients.sns)

    def call(self, operation: str, response: dict[str, Any], expected: dict[str, Any] | None = None) -> None:
        self.sagemaker.add_response(operation, response, expected)

    def fail(self, operation: str, error: ClientError) -> None:
        code, message = error.response["Error"]["Code"], error.response["Error"]["Message"]
        self.sagemaker.add_client_error(operation, service_error_code=code, service_message=message)

    def serves(self, name: str, version: int) -> None:
        """DescribeEndpointConfig then DescribeModel of a configuration that serves ``version``."""
        self.call("describe_endpoint_config", shapes.endpoint_config(name), {"EndpointConfigName": name})
        self.call("describe_model", shapes.model(name, version), {"ModelName": name})

    def expect_message(self, subject: str) -> None:
        self.sns.add_response(
            "publish",
            {"MessageId": "m-1"},
            {"TopicArn": shapes.TOPIC, "Subject": subject, "Message": ANY},
        )


@pytest.fixture
def stubbed() -> Iterator[Stubbed]:
    stubs = Stubbed()
    with stubs.sagemaker, stubs.sns:
        yield stubs
        stubs.sagemaker.assert_no_pending_responses()
        stubs.sns.assert_no_pending_responses()


def run(stubs: Stubbed, event: dict[str, Any], **config: Any) -> dict[str, Any]:
    """The handler's dispatch and publish, as ``handle`` does them, with the stubbed clients."""
    settings = shapes.config(**config)
    outcome = dispatch(event, settings, stubs.clients)
    if outcome is None:
        return {"status": "ignored"}
    if outcome.notify:
        handler.publish(stubs.clients.sns, settings, outcome)
    return outcome.as_dict()


def expect_creation(stubs: Stubbed, version: int, **variant: Any) -> str:
    """CreateModel from the package and CreateEndpointConfig, with the requests SageMaker must receive."""
    name = shapes.config_name(version)
    tags = shapes.config().tags
    stubs.call(
        "create_model",
        {"ModelArn": f"arn:aws:sagemaker:{shapes.REGION}:{shapes.ACCOUNT}:model/{name}"},
        {
            "ModelName": name,
            "PrimaryContainer": {"ModelPackageName": shapes.package_arn(version)},
            "ExecutionRoleArn": shapes.INFERENCE_ROLE,
            "Tags": tags,
        },
    )
    config_request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
        "Tags": tags,
        **variant,
    }
    stubs.call(
        "create_endpoint_config", {"EndpointConfigArn": f"arn:aws:sagemaker:::endpoint-config/{name}"}, config_request
    )
    return name


def test_the_first_approval_creates_the_endpoint(stubbed: Stubbed) -> None:
    stubbed.call("describe_model_package", shapes.model_package(3), {"ModelPackageName": shapes.package_arn(3)})
    stubbed.fail("describe_endpoint", shapes.missing_endpoint())
    name = expect_creation(stubbed, 3, KmsKeyId=shapes.KEY)
    stubbed.call(
        "create_endpoint",
        {"EndpointArn": f"arn:aws:sagemaker:{shapes.REGION}:{shapes.ACCOUNT}:endpoint/{shapes.ENDPOINT}"},
        {"EndpointName": shapes.ENDPOINT, "EndpointConfigName": name, "Tags": shapes.config().tags},
    )
    stubbed.expect_message("dev-endpoint: creating version 3")
    outcome = run(stubbed, shapes.approval_event(3))
    assert outcome["status"] == "creating"
    assert outcome["endpoint_config"] == "dev-endpoint-v3-20261120030000"
    assert "creating it with version 3 (1 x ml.m5.large" in outcome["message"]


def test_a_new_approval_updates_the_endpoint_blue_green_with_rollback_alarms(stubbed: Stubbed) -> None:
    live = shapes.config_name(3, "20261101000000")
    stubbed.call("describe_model_package", shapes.model_package(4))
    stubbed.call("describe_endpoint", shapes.endpoint("InService", live))
    stubbed.serves(live, 3)
    name = expect_creation(stubbed, 4, KmsKeyId=shapes.KEY)
    stubbed.call(
        "update_endpoint",
        {"EndpointArn": f"arn:aws:sagemaker:{shapes.REGION}:{shapes.ACCOUNT}:endpoint/{shapes.ENDPOINT}"},
        {"EndpointName": shapes.ENDPOINT, "EndpointConfigName": name, "DeploymentConfig": shapes.DEPLOYMENT_CONFIG},
    )
    stubbed.expect_message("dev-endpoint: updating version 4")
    outcome = run(stubbed, shapes.approval_event(4))
    assert outcome["status"] == "updating"
    assert outcome["message"].startswith("endpoint dev-endpoint: updating from version 3 to version 4 (blue/green")
    assert "rolls back if dev-endpoint-5xx-errors or dev-endpoint-model-latency fires" in outcome["message"]


def test_an_update_that_sagemaker_rolls_back_is_reported(stubbed: Stubbed) -> None:
    """After the alarms trip, the endpoint is InService again on the old configuration, not the newest one."""
    old, new = shapes.config_name(3, "20261101000000"), shapes.config_name(4)
    reason = "Deployment was rolled back because alarm dev-endpoint-5xx-errors went into ALARM state."
    stubbed.call("describe_endpoint", shapes.endpoint("InService", old, failure=reason))
    stubbed.serves(old, 3)
    stubbed.call("list_endpoint_configs", shapes.endpoint_configs(new, old), {
        "NameContains": "dev-endpoint-v", "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 10,
    })  # fmt: skip
    stubbed.serves(new, 4)
    stubbed.expect_message("dev-endpoint: rolled-back version 4")
    outcome = run(stubbed, shapes.endpoint_event("IN_SERVICE", old))
    assert outcome["status"] == "rolled-back"
    assert f"the update to version 4 was rolled back ({reason}); it still serves version 3" in outcome["message"]


def test_an_update_that_goes_live_is_reported(stubbed: Stubbed) -> None:
    new = shapes.config_name(4)
    stubbed.call("describe_endpoint", shapes.endpoint("InService", new))
    stubbed.serves(new, 4)
    stubbed.call("list_endpoint_configs", shapes.endpoint_configs(new))
    stubbed.expect_message("dev-endpoint: live version 4")
    assert run(stubbed, shapes.endpoint_event("IN_SERVICE", new))["message"] == (
        "endpoint dev-endpoint is InService with version 4."
    )


def test_a_rejected_version_is_never_deployed(stubbed: Stubbed) -> None:
    """The rule matches Approved only; a version rejected before the function ran is refused all the same."""
    stubbed.call("describe_model_package", shapes.model_package(5, status="Rejected"))
    stubbed.expect_message("dev-endpoint: refused version 5")
    outcome = run(stubbed, shapes.approval_event(5, status="Approved"))
    assert outcome["status"] == "refused"
    assert outcome["message"].startswith("dev-pytorch-models version 5 is Rejected, not Approved: not deployed")


def test_a_manual_deploy_of_a_pending_version_is_refused(stubbed: Stubbed) -> None:
    stubbed.call("describe_model_package", shapes.model_package(6, status="PendingManualApproval"))
    stubbed.expect_message("dev-endpoint: refused version 6")
    event = {"action": "deploy", "model_package_arn": shapes.package_arn(6), "requested_by": "arn:aws:iam::1:user/a"}
    assert run(stubbed, event)["status"] == "refused"


def test_a_version_of_another_group_is_refused(stubbed: Stubbed) -> None:
    stubbed.call("describe_model_package", shapes.model_package(2, group="prod-pytorch-models"))
    stubbed.expect_message("dev-endpoint: refused")
    assert "is not a version of group dev-pytorch-models" in run(stubbed, shapes.approval_event(2))["message"]


def test_a_repeated_approval_event_during_the_update_sends_nothing(stubbed: Stubbed) -> None:
    """SageMaker may send several events per state change: the second finds its own update in progress."""
    old, new = shapes.config_name(3, "20261101000000"), shapes.config_name(4)
    stubbed.call("describe_model_package", shapes.model_package(4))
    stubbed.call("describe_endpoint", shapes.endpoint("Updating", old, pending=new))
    stubbed.serves(old, 3)
    stubbed.serves(new, 4)
    outcome = run(stubbed, shapes.approval_event(4))  # no publish queued: Stubber fails on an unexpected one
    assert outcome["status"] == "in-progress"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Updating", "endpoint dev-endpoint is Updating: version 5 was not deployed. When it is InService, run "
         "make deploy-model STAGE=dev VERSION=5."),
        ("Failed", "endpoint dev-endpoint is Failed (boom); SageMaker can only delete a failed endpoint: delete it"),
    ],
)  # fmt: skip
def test_a_busy_or_failed_endpoint_is_not_updated(stubbed: Stubbed, status: str, expected: str) -> None:
    old = shapes.config_name(3, "20261101000000")
    stubbed.call("describe_model_package", shapes.model_package(5))
    stubbed.call("describe_endpoint", shapes.endpoint(status, old, failure="boom" if status == "Failed" else None))
    stubbed.serves(old, 3)
    stubbed.expect_message("dev-endpoint: refused version 5")
    assert run(stubbed, shapes.approval_event(5))["message"].startswith(expected)


def test_an_approved_version_already_live_is_not_redeployed(stubbed: Stubbed) -> None:
    live = shapes.config_name(4)
    stubbed.call("describe_model_package", shapes.model_package(4))
    stubbed.call("describe_endpoint", shapes.endpoint("InService", live))
    stubbed.serves(live, 4)
    stubbed.expect_message("dev-endpoint: unchanged version 4")
    assert run(stubbed, shapes.approval_event(4))["status"] == "unchanged"


def test_an_update_sagemaker_refuses_is_a_failed_outcome(stubbed: Stubbed) -> None:
    live = shapes.config_name(3, "20261101000000")
    stubbed.call("describe_model_package", shapes.model_package(4))
    stubbed.call("describe_endpoint", shapes.endpoint("InService", live))
    stubbed.serves(live, 3)
    expect_creation(stubbed, 4, KmsKeyId=shapes.KEY)
    stubbed.sagemaker.add_client_error(
        "update_endpoint", service_error_code="ResourceLimitExceeded", service_message="account-level limit of 2"
    )
    stubbed.expect_message("dev-endpoint: failed version 4")
    outcome = run(stubbed, shapes.approval_event(4))
    assert outcome["message"] == (
        "endpoint dev-endpoint: deploying version 4 failed: ResourceLimitExceeded: account-level limit of 2 "
        "(UpdateEndpoint). Retry with make deploy-model STAGE=dev VERSION=4."
    )


def test_local_storage_types_get_no_volume_key_and_capture_is_passed_as_configured(stubbed: Stubbed) -> None:
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": "s3://artifacts/data-capture/dev-endpoint",
        "KmsKeyId": shapes.KEY,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    stubbed.call("describe_model_package", shapes.model_package(3))
    stubbed.fail("describe_endpoint", shapes.missing_endpoint())
    name = expect_creation(stubbed, 3, DataCaptureConfig=capture)  # no KmsKeyId: Stubber compares the whole request
    stubbed.call("create_endpoint", {"EndpointArn": "arn:aws:sagemaker:::endpoint/x"}, {
        "EndpointName": shapes.ENDPOINT, "EndpointConfigName": name, "Tags": shapes.config().tags,
    })  # fmt: skip
    stubbed.expect_message("dev-endpoint: creating version 3")
    assert run(stubbed, shapes.approval_event(3), kms_key_arn="", data_capture=capture)["status"] == "creating"


@pytest.mark.parametrize("status", ["CREATING", "UPDATING", "DELETING"])
def test_transitional_endpoint_events_are_ignored(stubbed: Stubbed, status: str) -> None:
    assert run(stubbed, shapes.endpoint_event(status)) == {"status": "ignored"}


def test_handle_reads_its_settings_from_the_environment(stubbed: Stubbed, monkeypatch: pytest.MonkeyPatch) -> None:
    document = json.loads(json.dumps(shapes.config().__dict__))
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, json.dumps(document))
    stubbed.call("describe_model_package", shapes.model_package(7, status="Rejected"))
    stubbed.expect_message("dev-endpoint: refused version 7")
    assert handler.handle(shapes.approval_event(7), None, stubbed.clients)["status"] == "refused"
    with pytest.raises(ValueError, match="unexpected input: detail-type 'Scheduled Event'"):
        handler.handle({"detail-type": "Scheduled Event"}, None, stubbed.clients)


def test_the_stubbed_client_refuses_a_request_sagemaker_would_refuse() -> None:
    """The check the tests above rely on: a member CreateModel does not have fails before any response."""

    stubs = Stubbed()
    stubs.call("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:111122223333:model/m"})
    with stubs.sagemaker, pytest.raises(ParamValidationError, match="Unknown parameter in PrimaryContainer"):
        stubs.clients.sagemaker.create_model(ModelName="m", PrimaryContainer={"ModelPackageArn": "arn"})
