"""The deployer's rows of the automation matrix, recorded from its code.

The deployer (``constructs_lib/automation/runtime/endpoint_deployer``) runs against botocore's Stubber for a
first deployment, an update and a rollback report, with the names and ARNs of the synthesized stack; every
request it sends is recorded and mapped to the IAM authorizations it needs (``OPERATION_ROWS``). An
operation without rows fails the matrix (``UnmodelledError``), so a new call cannot slip in unchecked.
Which permission each request needs: the SageMaker guide's "API Permissions Reference"
(https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html), the Service Authorization
Reference (dependent ``sagemaker:AddTags``), and the guides cited per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
from botocore.stub import Stubber

from constructs_lib.automation.runtime.endpoint_deployer.config import DeployerConfig
from constructs_lib.automation.runtime.endpoint_deployer.handler import Clients, dispatch, publish
from tests.automation import deployer_shapes as shapes
from tests.security.automation_iam import AutomationIam
from tests.security.execution_model import Call, Execution, UnmodelledError

API_PERMISSIONS = "SageMaker guide, API Permissions Reference, https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html"
ROLLBACK_GUIDE = (
    "SageMaker guide, Auto-Rollback Configuration and Monitoring (cloudwatch:DescribeAlarms on the alarms), "
    "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html"
)
SNS_KMS_GUIDE = (
    "Amazon SNS Developer Guide, Managing Amazon SNS encryption keys (a publisher needs kms:GenerateDataKey and "
    "kms:Decrypt), https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
)


def spellings(name: str) -> list[str]:
    """A name as written and lowercased, once each."""
    return list(dict.fromkeys((name, name.lower())))


Row = Callable[[dict[str, Any], "DeployerCalls"], list[tuple[str, str, dict[str, Any], str]]]


class DeployerCalls:
    """The deployer's recorded requests turned into rows: ``(action, resource, context, guide)`` per request."""

    def __init__(self, iam: AutomationIam, ex: Execution, config: DeployerConfig) -> None:
        self.iam, self.ex, self.config = iam, ex, config
        self.role = iam.role_arn("DeploymentDeployerRole")
        self.config_keys: dict[str, bool] = {}

    def sagemaker(self, resource: str) -> list[str]:
        kind, _, name = resource.partition("/")
        return [self.ex.arn("sagemaker", f"{kind}/{spelling}") for spelling in spellings(name)]

    def rows(self, operation: str, params: dict[str, Any]) -> list[Call]:
        handler = OPERATION_ROWS.get(operation)
        if handler is None:
            raise UnmodelledError(f"the deployer calls {operation}, which has no rows in OPERATION_ROWS ({__name__})")
        return [
            Call(f"deployer: {operation}", self.role, action, resource, context, guide)
            for action, resource, context, guide in handler(params, self)
        ]


def _each(
    action: str, arns: list[str], guide: str = API_PERMISSIONS, **context: Any
) -> list[tuple[str, str, dict[str, Any], str]]:
    return [(action, arn, dict(context), guide) for arn in arns]


def _tags(params: dict[str, Any], arns: list[str]) -> list[tuple[str, str, dict[str, Any], str]]:
    return _each("sagemaker:AddTags", arns) if params.get("Tags") else []


def _create_model(p: dict[str, Any], c: DeployerCalls) -> list[tuple[str, str, dict[str, Any], str]]:
    arns = c.sagemaker(f"model/{p['ModelName']}")
    passed = (
        "iam:PassRole",
        p["ExecutionRoleArn"],
        {"iam:PassedToService": "sagemaker.amazonaws.com"},
        API_PERMISSIONS,
    )
    return [*_each("sagemaker:CreateModel", arns), passed, *_tags(p, arns)]


def _create_config(p: dict[str, Any], c: DeployerCalls) -> list[tuple[str, str, dict[str, Any], str]]:
    c.config_keys[p["EndpointConfigName"]] = "KmsKeyId" in p
    arns = c.sagemaker(f"endpoint-config/{p['EndpointConfigName']}")
    types = [variant["InstanceType"] for variant in p["ProductionVariants"]]
    return [*_each("sagemaker:CreateEndpointConfig", arns, **{"sagemaker:InstanceTypes": types}), *_tags(p, arns)]


def _deploy(action: str) -> Row:
    def rows(p: dict[str, Any], c: DeployerCalls) -> list[tuple[str, str, dict[str, Any], str]]:
        endpoint = c.sagemaker(f"endpoint/{p['EndpointName']}")
        found = [*_each(action, endpoint), *_each(action, c.sagemaker(f"endpoint-config/{p['EndpointConfigName']}"))]
        if action == "sagemaker:CreateEndpoint":
            found += _tags(p, endpoint)
        if c.config_keys.get(p["EndpointConfigName"]):
            # CreateEndpoint: "kms:CreateGrant (required only if the associated EndPointConfig has a KmsKeyId)";
            # CreateEndpointConfig's KmsKeyId: "The KMS key policy must grant permission to the IAM role that you
            # specify in your CreateEndpoint, UpdateEndpoint requests".
            found += _each("kms:CreateGrant", [c.config.kms_key_arn], **{"kms:GrantIsForAWSResource": "true"})
        for alarm in p.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms", []):
            found += _each(
                "cloudwatch:DescribeAlarms", [c.ex.arn("cloudwatch", f"alarm:{alarm['AlarmName']}")], ROLLBACK_GUIDE
            )
        return found

    return rows


def _publish(p: dict[str, Any], c: DeployerCalls) -> list[tuple[str, str, dict[str, Any], str]]:
    found = [("sns:Publish", p["TopicArn"], {}, SNS_KMS_GUIDE)]
    if c.iam.of_type("AWS::SNS::Topic"):  # the stack's topic, encrypted with the stage key
        context = {"kms:EncryptionContext:aws:sns:topicArn": p["TopicArn"]}
        found += [
            (action, c.config.kms_key_arn or _stage_key(c), context, SNS_KMS_GUIDE)
            for action in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    return found


def _stage_key(c: DeployerCalls) -> str:
    (key_arn,) = c.iam.stack.key_policies
    return key_arn


OPERATION_ROWS: dict[str, Callable[[dict[str, Any], DeployerCalls], list[tuple[str, str, dict[str, Any], str]]]] = {
    "DescribeModelPackage": lambda p, c: [
        ("sagemaker:DescribeModelPackage", p["ModelPackageName"], {}, API_PERMISSIONS)
    ],
    "DescribeEndpoint": lambda p, c: _each("sagemaker:DescribeEndpoint", c.sagemaker(f"endpoint/{p['EndpointName']}")),
    "DescribeEndpointConfig": lambda p, c: _each(
        "sagemaker:DescribeEndpointConfig", c.sagemaker(f"endpoint-config/{p['EndpointConfigName']}")
    ),
    "DescribeModel": lambda p, c: _each("sagemaker:DescribeModel", c.sagemaker(f"model/{p['ModelName']}")),
    "ListEndpointConfigs": lambda p, c: [("sagemaker:ListEndpointConfigs", "*", {}, API_PERMISSIONS)],
    "CreateModel": _create_model,
    "CreateEndpointConfig": _create_config,
    "CreateEndpoint": _deploy("sagemaker:CreateEndpoint"),
    "UpdateEndpoint": _deploy("sagemaker:UpdateEndpoint"),
    "Publish": _publish,
}
"""Each request the deployer sends -> the authorizations it needs. A new call adds its rows here."""


def _recorded(clients: Clients) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    for client in (clients.sagemaker, clients.sns):
        client.meta.events.register("provide-client-params", record)
    return calls


def deployer_rows(iam: AutomationIam, ex: Execution) -> list[Call]:
    """Run the deployer's code for a first deployment, then an update, and turn its requests into rows."""
    config = DeployerConfig.from_json(json_document(iam))
    names = shapes.Names(ex.stack.env.region, ex.stack.env.account, config.endpoint_name, config.group_name)
    credentials = {"aws_access_key_id": "stub", "aws_secret_access_key": "stub", "region_name": names.region}
    clients = Clients(boto3.client("sagemaker", **credentials), boto3.client("sns", **credentials), lambda: shapes.T0)
    calls = _recorded(clients)
    sagemaker, sns = Stubber(clients.sagemaker), Stubber(clients.sns)
    live = shapes.config_name(3, "20261101000000", names)
    with sagemaker, sns:
        for version, endpoint in ((3, None), (4, shapes.endpoint("InService", live, names=names))):
            sagemaker.add_response("describe_model_package", shapes.model_package(version, names=names))
            if endpoint is None:
                missing = shapes.missing_endpoint(names).response["Error"]["Message"]
                sagemaker.add_client_error("describe_endpoint", "ValidationException", missing)
            else:
                sagemaker.add_response("describe_endpoint", endpoint)
                sagemaker.add_response("describe_endpoint_config", shapes.endpoint_config(live, names))
                sagemaker.add_response("describe_model", shapes.model(live, 3, names))
            for operation in (
                "create_model",
                "create_endpoint_config",
                "create_endpoint" if endpoint is None else "update_endpoint",
            ):
                sagemaker.add_response(operation, _created(operation, names))
            sns.add_response("publish", {"MessageId": "m"})
            outcome = dispatch(
                {"action": "deploy", "model_package_arn": shapes.package_arn(version, names)}, config, clients
            )
            assert outcome is not None and outcome.status in ("creating", "updating"), outcome
            publish(clients.sns, config, outcome)
        _report_rollback(sagemaker, sns, clients, config, names)
        sagemaker.assert_no_pending_responses()
    deployer = DeployerCalls(iam, ex, config)
    return [row for operation, params in calls for row in deployer.rows(operation, params)]


def _report_rollback(
    sagemaker: Stubber, sns: Stubber, clients: Clients, config: DeployerConfig, names: shapes.Names
) -> None:
    """The endpoint's state change after a rolled-back update: what the report path calls."""
    old, new = shapes.config_name(3, "20261101000000", names), shapes.config_name(4, names=names)
    sagemaker.add_response("describe_endpoint", shapes.endpoint("InService", old, names=names))
    for name, version in ((old, 3), ("list", 0), (new, 4)):
        if name == "list":
            sagemaker.add_response("list_endpoint_configs", shapes.endpoint_configs(new, old, names=names))
            continue
        sagemaker.add_response("describe_endpoint_config", shapes.endpoint_config(name, names))
        sagemaker.add_response("describe_model", shapes.model(name, version, names))
    sns.add_response("publish", {"MessageId": "m"})
    event = {"detail-type": "SageMaker Endpoint State Change", "detail": {"EndpointStatus": "IN_SERVICE"}}
    outcome = dispatch(event, config, clients)
    assert outcome is not None and outcome.status == "rolled-back", outcome
    publish(clients.sns, config, outcome)


def _created(operation: str, names: shapes.Names) -> dict[str, Any]:
    key = {"create_model": "ModelArn", "create_endpoint_config": "EndpointConfigArn"}.get(operation, "EndpointArn")
    return {key: names.arn("x/y")}


def json_document(iam: AutomationIam) -> str:
    return json.dumps(iam.deployer_document())
