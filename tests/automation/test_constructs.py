"""The automation constructs as a library: their resources, defaults and prop checks, on a bare stack."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from constructs_lib.automation.alerts import PipelineAlerts
from constructs_lib.automation.deployment import ApprovedModelDeployment
from constructs_lib.automation.schedule import ScheduleParameterError, scheduled_parameters
from constructs_lib.config.automation_config import DeploymentSettings, NotificationSettings
from tests.automation.conftest import DECLARED, GROUP, IMAGE, PIPELINE, REGION, Library
from tests.security.cfn_resolver import FAKE_ACCOUNT, CfnEnvironment, TemplateResolver

SAGEMAKER_ARN = f"arn:aws:sagemaker:{REGION}:{FAKE_ACCOUNT}"


def template(library: Library) -> Template:
    return Template.from_json(library.template)


def policy_of(library: Library, role_prefix: str) -> list[dict[str, Any]]:
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in library.resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    statements: list[dict[str, Any]] = library.resolved(policy)["Statement"]
    return statements


def test_the_schedule_starts_the_pipeline_with_its_parameters(library: Library) -> None:
    template(library).has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 3 * * ? *)",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "GroupName": PIPELINE,
            "Target": Match.object_like(
                {
                    "SageMakerPipelineParameters": {
                        "PipelineParameterList": [{"Name": "QualityThreshold", "Value": "0.8"}]
                    },
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3},
                }
            ),
        },
    )
    schedule = library.resolved(library.one("AWS::Scheduler::Schedule", "Schedule")["Properties"])
    assert schedule["Target"]["Arn"] == f"{SAGEMAKER_ARN}:pipeline/{PIPELINE}"


def test_the_schedule_role_may_start_only_this_pipeline(library: Library) -> None:
    (statement,) = policy_of(library, "ScheduleRole")
    assert statement["Action"] == "sagemaker:StartPipelineExecution"
    assert statement["Resource"] == [
        f"{SAGEMAKER_ARN}:pipeline/{PIPELINE}",
        f"{SAGEMAKER_ARN}:pipeline/{PIPELINE.lower()}",
    ]
    role = library.resolved(library.one("AWS::IAM::Role", "ScheduleRole")["Properties"])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": FAKE_ACCOUNT},
        "ArnLike": {
            "aws:SourceArn": [
                f"arn:aws:scheduler:{REGION}:{FAKE_ACCOUNT}:schedule-group/{PIPELINE}",
                f"arn:aws:scheduler:{REGION}:{FAKE_ACCOUNT}:schedule/{PIPELINE}/*",
            ]
        },
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"Epochs": 3}, "parameters.Epochs: the pipeline declares no such parameter; valid: InputDataUri, "
         "QualityThreshold, ModelApprovalStatus"),
        ({"InputDataUri": "s3://b/k"}, "parameters.InputDataUri: cannot be set by a schedule: the data bucket's name"),
        ({"QualityThreshold": "high"}, "parameters.QualityThreshold: 'high' is not a Float value"),
        ({"ModelApprovalStatus": "Approved"}, "parameters.ModelApprovalStatus: 'Approved' is not allowed; valid: "
         "PendingManualApproval"),
    ],
)  # fmt: skip
def test_scheduled_parameters_are_checked_against_the_declared_ones(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleParameterError) as raised:
        scheduled_parameters(values, DECLARED)
    assert str(raised.value).startswith(message)


def test_the_alerts_topic_is_encrypted_and_subscribed(library: Library) -> None:
    topic = library.one("AWS::SNS::Topic", "AlertsTopic")["Properties"]
    assert topic["TopicName"] == f"{PIPELINE}-alerts"
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [next(iter(library.resources("AWS::KMS::Key"))), "Arn"]}
    template(library).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_the_key_policy_lets_eventbridge_encrypt_for_this_topic_only(library: Library) -> None:
    """Amazon SNS Developer Guide, "Enable compatibility between event sources from AWS services and encrypted
    topics" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services):
    the service principal needs kms:GenerateDataKey* and kms:Decrypt in the key policy, or EventBridge's
    deliveries to the encrypted topic fail without any error where an operator would see it."""
    (key,) = library.resources("AWS::KMS::Key").values()
    statements = library.resolved(key["Properties"]["KeyPolicy"])["Statement"]
    (events,) = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert sorted(events["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    topic_arn = f"arn:aws:sns:{REGION}:{FAKE_ACCOUNT}:{PIPELINE}-alerts"
    assert events["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}}


def test_the_topic_policy_lets_only_these_rules_publish(library: Library) -> None:
    (policy,) = library.resources("AWS::SNS::TopicPolicy").values()
    statements = library.resolved(policy["Properties"]["PolicyDocument"])["Statement"]
    (publish,) = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert publish["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        f"arn:aws:events:{REGION}:{FAKE_ACCOUNT}:rule/{PIPELINE}-run-failed",
        f"arn:aws:events:{REGION}:{FAKE_ACCOUNT}:rule/{PIPELINE}-step-failed",
    ]
    assert {s["Effect"] for s in statements} == {"Allow", "Deny"}  # enforce_ssl's deny of plain HTTP


def deployer_document(library: Library) -> dict[str, Any]:
    function = library.one("AWS::Lambda::Function", "DeploymentDeployer")["Properties"]
    document: dict[str, Any] = json.loads(library.resolved(function["Environment"]["Variables"]["DEPLOYER_CONFIG"]))
    return document


def test_the_deployer_gets_its_settings_and_the_rollback_alarms(library: Library) -> None:
    document = deployer_document(library)
    assert document["endpoint_name"] == "dev-endpoint"
    assert document["group_name"] == GROUP
    assert document["kms_key_arn"].startswith(f"arn:aws:kms:{REGION}:{FAKE_ACCOUNT}:key/")
    assert document["deployment_config"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600},
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {
            "Alarms": [{"AlarmName": "dev-endpoint-5xx-errors"}, {"AlarmName": "dev-endpoint-model-latency"}]
        },
    }
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"] for a in library.resources("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {"dev-endpoint-5xx-errors", "dev-endpoint-model-latency"}
    latency = alarms["dev-endpoint-model-latency"]
    assert (latency["MetricName"], latency["Namespace"], latency["Threshold"]) == (
        "ModelLatency",
        "AWS/SageMaker",
        1000000,
    )
    assert latency["Dimensions"] == [
        {"Name": "EndpointName", "Value": "dev-endpoint"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert alarms["dev-endpoint-5xx-errors"]["TreatMissingData"] == "notBreaching"


def test_the_deployer_function_reports_failures_to_the_topic(library: Library) -> None:
    function = library.one("AWS::Lambda::Function", "DeploymentDeployer")["Properties"]
    assert function["Runtime"] == "python3.14"
    assert function["Handler"] == "endpoint_deployer.handler.handle"
    assert function["DeadLetterConfig"] == {"TargetArn": {"Ref": next(iter(library.resources("AWS::SNS::Topic")))}}
    assert "KmsKeyArn" in function
    template(library).has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 3600}
    )
    log_group = library.one("AWS::Logs::LogGroup", "DeploymentLogGroup")["Properties"]
    assert (log_group["LogGroupName"], log_group["RetentionInDays"]) == ("/aws/lambda/dev-endpoint-deployer", 365)
    assert "KmsKeyId" in log_group


def _bare_stack() -> tuple[cdk.Stack, kms.Key, s3.Bucket]:
    stack = cdk.Stack(cdk.App(), "Bare", env=cdk.Environment(region=REGION))
    key = kms.Key(stack, "Key")
    return stack, key, s3.Bucket(stack, "Bucket")


def _deployment(stack: cdk.Stack, key: kms.IKey, bucket: s3.IBucket, **overrides: Any) -> ApprovedModelDeployment:
    alerts = PipelineAlerts(
        stack, "Alerts", pipeline_name=PIPELINE, key=key, settings=NotificationSettings(emails=["a@b.co"])
    )
    props: dict[str, Any] = {
        "endpoint_name": "e",
        "settings": DeploymentSettings(instance_type="ml.g5.xlarge"),
        "model_package_group_name": GROUP,
        "key": key,
        "artifacts_bucket": bucket,
        "artifacts_prefix": "training-output",
        "inference_image_uri": IMAGE,
        "topic": alerts.topic,
        "owns_topic_key": True,
        **overrides,
    }
    return ApprovedModelDeployment(stack, "Deployment", **props)


def test_instance_types_with_local_storage_get_no_volume_key() -> None:
    """ml.g5 has local NVMe storage: CreateEndpointConfig would fail with a KmsKeyId (API Reference)."""
    stack, key, bucket = _bare_stack()
    _deployment(stack, key, bucket)
    bare = Library(
        stack,
        Template.from_stack(stack).to_json(),
        TemplateResolver(Template.from_stack(stack).to_json(), CfnEnvironment(REGION)),
    )
    assert deployer_document(bare)["kms_key_arn"] == ""
    policies = [r["Properties"]["PolicyDocument"] for r in bare.resources("AWS::IAM::Policy").values()]
    assert "kms:CreateGrant" not in json.dumps(policies)  # no volume key, so no grant for it


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_name": "an-endpoint-name-that-is-far-longer-than-forty"}, "endpoint_name"),
        ({"inference_image_uri": "pytorch-inference:2.6.0"}, "inference_image_uri"),
        ({"artifacts_prefix": "training-output/"}, "artifacts_prefix"),
    ],
)
def test_the_deployment_checks_its_props_first(overrides: dict[str, Any], message: str) -> None:
    stack, key, bucket = _bare_stack()
    with pytest.raises(ValueError, match=message):
        _deployment(stack, key, bucket, **overrides)


def test_an_imported_key_cannot_get_the_eventbridge_statement() -> None:
    stack, _, _ = _bare_stack()
    imported = kms.Key.from_key_arn(stack, "Imported", f"arn:aws:kms:{REGION}:{FAKE_ACCOUNT}:key/abc")
    with pytest.raises(ValueError, match="key: its key policy cannot be changed from this stack"):
        PipelineAlerts(
            stack, "Alerts", pipeline_name=PIPELINE, key=imported, settings=NotificationSettings(emails=["a@b.co"])
        )


def test_an_existing_topic_is_used_as_it_is() -> None:
    stack, key, _ = _bare_stack()
    topic_arn = f"arn:aws:sns:{REGION}:{FAKE_ACCOUNT}:team-alerts"
    alerts = PipelineAlerts(
        stack, "Alerts", pipeline_name=PIPELINE, key=key, settings=NotificationSettings(topic_arn=topic_arn)
    )
    resources = Template.from_stack(stack).to_json()["Resources"]
    assert not [r for r in resources.values() if r["Type"].startswith("AWS::SNS::")]  # no topic, policy, subscription
    assert "events.amazonaws.com" not in json.dumps([r for r in resources.values() if r["Type"] == "AWS::KMS::Key"])
    rules = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert [rule["Targets"][0]["Arn"] for rule in rules] == [topic_arn, topic_arn]
    assert alerts.topic_arn == topic_arn and not alerts.owns_topic
