"""Every call the automation makes, as IAM sees it, with the AWS guide page that says it happens.

* Scheduler assumes its execution role and calls StartPipelineExecution;
* EventBridge publishes alerts to the encrypted topic (and SNS uses the key for EventBridge), and invokes the
  deployer function;
* Lambda runs the deployer under its role, which writes its logs; CloudWatch Logs encrypts them with the key;
* the deployer's own SageMaker, IAM, CloudWatch, KMS and SNS calls are *recorded from the handler's code*
  (``deployer_calls``): it runs against Stubber for a first deployment and for an update, and each request it
  sends is mapped to the IAM authorizations it needs (``OPERATION_ROWS``); an operation without rows fails;
* SageMaker assumes the inference role, pulls the image and reads the registered ``model.tar.gz``, resolved
  from the pipeline's RegisterModel step as the execution model resolves it.

SageMaker's resource names in ARNs: the guide's examples write them in lowercase (``model-package/<group>/1``,
``training-job/pipelines-...``); whether IAM sees an endpoint's or model's name lowercased is not documented,
so every SageMaker resource row is evaluated with the name as written and lowercased.
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
from tests.security.execution_model import TLS_CONTEXT, Call, Execution, UnmodelledError, all_steps, s3_location

SCHEDULER_GUIDE = (
    "EventBridge Scheduler guide, Set up the execution role and Confused deputy prevention (schedule group ARN), "
    "https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html; Service "
    "Authorization Reference, sagemaker:StartPipelineExecution on pipeline/${PipelineName}"
)
EVENTS_SNS_GUIDE = (
    "EventBridge User Guide, Using resource-based policies (Amazon SNS permissions), "
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html"
)
SNS_KMS_GUIDE = (
    "Amazon SNS Developer Guide, Enable compatibility between event sources from AWS services and encrypted topics "
    "(kms:GenerateDataKey*, kms:Decrypt), https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html"
)
LAMBDA_GUIDE = (
    "AWS Lambda Developer Guide, Lambda execution role, and Using resource-based policies (EventBridge invokes with "
    "AWS:SourceArn), https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"
)
LOGS_KMS_GUIDE = (
    "CloudWatch Logs User Guide, Encrypt log data using AWS KMS (logs.<region>.amazonaws.com, "
    "kms:EncryptionContext:aws:logs:arn), https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
)
API_PERMISSIONS = "SageMaker guide, API Permissions Reference, https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html"
ROLLBACK_GUIDE = (
    "SageMaker guide, Auto-Rollback Configuration and Monitoring (cloudwatch:DescribeAlarms on the alarms), "
    "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html"
)
EXECUTION_ROLE_GUIDE = (
    "SageMaker guide, How to use SageMaker AI execution roles (CreateModel API: Execution Role Permissions), "
    "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"
)
SSE_KMS = (
    "Amazon S3 User Guide, Using SSE-KMS, https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
)
TRUST_GUIDE = (
    "SageMaker guide, Cross-service confused deputy prevention, "
    "https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html"
)


def spellings(name: str) -> list[str]:
    return list(dict.fromkeys((name, name.lower())))


def schedule_rows(iam: AutomationIam, ex: Execution) -> list[Call]:
    """Scheduler assumes the role (with either documented source ARN form), then starts the pipeline."""
    ((_, schedule),) = iam.of_type("AWS::Scheduler::Schedule").items()
    group = schedule["Properties"]["GroupName"]
    role = iam.role_arn("ScheduleRole")
    sources = {
        "group": ex.arn("scheduler", f"schedule-group/{group}"),
        "schedule": ex.arn("scheduler", f"schedule/{group}/{schedule['Properties']['Name']}"),
    }
    rows = [
        Call(
            f"schedule: Scheduler assumes its role ({kind} ARN)",
            "scheduler.amazonaws.com",
            "sts:AssumeRole",
            role,
            {"aws:SourceArn": arn, "aws:SourceAccount": ex.stack.env.account},
            SCHEDULER_GUIDE,
        )
        for kind, arn in sources.items()
    ]
    rows += [
        Call(
            f"schedule: start the pipeline ({name})",
            role,
            "sagemaker:StartPipelineExecution",
            ex.pipeline_arn(name),
            {},
            SCHEDULER_GUIDE,
        )
        for name in spellings(ex.stack.pipeline_name)
    ]
    return rows


def alert_rows(iam: AutomationIam, ex: Execution) -> list[Call]:
    """EventBridge publishes each rule's message to the topic the stack owns, and SNS encrypts it with the key."""
    topics = iam.of_type("AWS::SNS::Topic")
    if not topics:
        return []  # an existing topic: its policy and key are its owner's
    ((topic_id, topic),) = topics.items()
    topic_arn, key_arn = iam.resolver.ref(topic_id), iam.resolved(topic["Properties"]["KmsMasterKeyId"])
    rows = []
    for rule in iam.of_type("AWS::Events::Rule").values():
        if rule["Properties"]["Targets"][0]["Arn"] != {"Ref": topic_id}:
            continue
        source = {
            "aws:SourceArn": ex.arn("events", f"rule/{rule['Properties']['Name']}"),
            "aws:SourceAccount": ex.stack.env.account,
        }
        name = rule["Properties"]["Name"]
        rows.append(
            Call(
                f"alerts: EventBridge publishes ({name})",
                "events.amazonaws.com",
                "sns:Publish",
                topic_arn,
                {**source, **TLS_CONTEXT},
                EVENTS_SNS_GUIDE,
            )
        )
        rows += [
            Call(
                f"alerts: SNS uses the key for EventBridge ({name})",
                "events.amazonaws.com",
                action,
                key_arn,
                {**source, "kms:EncryptionContext:aws:sns:topicArn": topic_arn},
                SNS_KMS_GUIDE,
            )
            for action in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    return rows


def function_rows(iam: AutomationIam, ex: Execution) -> list[Call]:
    """EventBridge invokes the deployer; Lambda assumes its role; it logs; CloudWatch Logs encrypts the logs."""
    ((function_id, function),) = [
        (k, v) for k, v in iam.of_type("AWS::Lambda::Function").items() if k.startswith("DeploymentDeployer")
    ]
    function_arn = iam.resolver.get_att(function_id, "Arn")
    role = iam.resolved(function["Properties"]["Role"])
    log_group = f"/aws/lambda/{function['Properties']['FunctionName']}"
    log_group_arn = ex.arn("logs", f"log-group:{log_group}")
    rows = [Call("deployer: Lambda assumes its role", "lambda.amazonaws.com", "sts:AssumeRole", role, {}, LAMBDA_GUIDE)]
    for rule in iam.of_type("AWS::Events::Rule").values():
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}:
            name = rule["Properties"]["Name"]
            source = {"aws:SourceArn": ex.arn("events", f"rule/{name}"), "aws:SourceAccount": ex.stack.env.account}
            rows.append(
                Call(
                    f"deployer: EventBridge invokes it ({name})",
                    "events.amazonaws.com",
                    "lambda:InvokeFunction",
                    function_arn,
                    source,
                    LAMBDA_GUIDE,
                )
            )
    stream = f"{log_group_arn}:log-stream:2026/11/20/[$LATEST]0123456789abcdef"
    rows += [
        Call("deployer: its log stream", role, f"logs:{a}", stream, {}, LAMBDA_GUIDE)
        for a in ("CreateLogStream", "PutLogEvents")
    ]
    (log_group_resource,) = iam.of_type("AWS::Logs::LogGroup").values()
    key_arn = iam.resolved(log_group_resource["Properties"]["KmsKeyId"])
    rows += [
        Call(
            "deployer: CloudWatch Logs encrypts its log group",
            f"logs.{ex.stack.env.region}.amazonaws.com",
            action,
            key_arn,
            {"kms:EncryptionContext:aws:logs:arn": log_group_arn},
            LOGS_KMS_GUIDE,
        )
        for action in ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")
    ]
    return rows


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


def inference_rows(iam: AutomationIam, ex: Execution, config: DeployerConfig) -> list[Call]:
    """SageMaker runs the endpoint under the inference role: image, registered model, logs, metrics, alarms."""
    role = config.inference_role_arn
    endpoint = config.endpoint_name
    rows = [
        Call(
            f"endpoint: SageMaker assumes the inference role ({kind} ARN)",
            "sagemaker.amazonaws.com",
            "sts:AssumeRole",
            role,
            {"aws:SourceArn": ex.arn("sagemaker", f"{kind}/{name.lower()}"), "aws:SourceAccount": ex.stack.env.account},
            TRUST_GUIDE,
        )
        for kind, name in (("model", config.name_for(3, shapes.STAMP)), ("endpoint", endpoint))
    ]
    (register,) = [step for step in all_steps(ex.definition) if step["Type"] == "RegisterModel"]
    (container,) = ex.resolve(register["Arguments"])["InferenceSpecification"]["Containers"]
    bucket, key = s3_location(container["ModelDataUrl"])
    stage_key = ex.stack.bucket_keys[bucket]
    rows.append(
        Call(
            "endpoint: read the registered model.tar.gz",
            role,
            "s3:GetObject",
            ex.s3_arn(bucket, key),
            TLS_CONTEXT,
            EXECUTION_ROLE_GUIDE,
        )
    )
    rows.append(
        Call(
            "endpoint: decrypt it through S3",
            role,
            "kms:Decrypt",
            stage_key,
            {"kms:ViaService": f"s3.{ex.stack.env.region}.amazonaws.com"},
            SSE_KMS,
        )
    )
    image = str(container["Image"])
    account, _, rest = image.partition(".dkr.ecr.")
    region, _, repository = rest.partition(".amazonaws.com/")
    repository_arn = f"arn:aws:ecr:{region}:{account}:repository/{repository.split(':')[0].split('@')[0]}"
    rows += [
        Call("endpoint: pull the inference image", role, f"ecr:{a}", repository_arn, {}, EXECUTION_ROLE_GUIDE)
        for a in ("BatchCheckLayerAvailability", "BatchGetImage", "GetDownloadUrlForLayer")
    ]
    rows.append(Call("endpoint: registry login", role, "ecr:GetAuthorizationToken", "*", {}, EXECUTION_ROLE_GUIDE))
    group = ex.arn("logs", f"log-group:/aws/sagemaker/Endpoints/{endpoint}")
    rows += [
        Call("endpoint: its log group", role, f"logs:{a}", f"{group}:*", {}, EXECUTION_ROLE_GUIDE)
        for a in ("CreateLogGroup", "DescribeLogStreams")
    ]
    rows += [
        Call(
            "endpoint: its log streams",
            role,
            f"logs:{a}",
            f"{group}:log-stream:AllTraffic/i-0123",
            {},
            EXECUTION_ROLE_GUIDE,
        )
        for a in ("CreateLogStream", "PutLogEvents")
    ]
    rows.append(
        Call(
            "endpoint: instance metrics",
            role,
            "cloudwatch:PutMetricData",
            "*",
            {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"},
            EXECUTION_ROLE_GUIDE,
        )
    )
    for alarm in config.deployment_config["AutoRollbackConfiguration"]["Alarms"]:
        rows.append(
            Call(
                "endpoint: read a rollback alarm",
                role,
                "cloudwatch:DescribeAlarms",
                ex.arn("cloudwatch", f"alarm:{alarm['AlarmName']}"),
                {},
                ROLLBACK_GUIDE,
            )
        )
    if config.data_capture:
        capture_bucket, prefix = s3_location(str(config.data_capture["DestinationS3Uri"]))
        rows.append(
            Call(
                "endpoint: write captured data",
                role,
                "s3:PutObject",
                ex.s3_arn(capture_bucket, f"{prefix}/AllTraffic/2026/11/20/03/capture.jsonl"),
                TLS_CONTEXT,
                EXECUTION_ROLE_GUIDE,
            )
        )
        rows.append(
            Call(
                "endpoint: encrypt captured data",
                role,
                "kms:GenerateDataKey",
                stage_key,
                {"kms:ViaService": f"s3.{ex.stack.env.region}.amazonaws.com"},
                SSE_KMS,
            )
        )
    return rows


def automation_calls(iam: AutomationIam, ex: Execution) -> list[Call]:
    """Every call of the stage's automation (none when the stage turns none on)."""
    calls: list[Call] = []
    if iam.of_type("AWS::Scheduler::Schedule"):
        calls += schedule_rows(iam, ex)
    calls += alert_rows(iam, ex)
    if iam.of_type("AWS::Lambda::Function") and iam.of_type("AWS::CloudWatch::Alarm"):
        config = DeployerConfig.from_json(json_document(iam))
        calls += function_rows(iam, ex) + deployer_rows(iam, ex) + inference_rows(iam, ex, config)
    return calls
