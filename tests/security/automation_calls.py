"""Every call the automation makes, as IAM sees it, with the AWS guide page that says it happens.

* Scheduler assumes its execution role and calls StartPipelineExecution;
* EventBridge publishes alerts to the encrypted topic (and SNS uses the key for EventBridge), and invokes the
  deployer function;
* Lambda runs the deployer under its role, which writes its logs; CloudWatch Logs encrypts them with the key;
* the deployer's own SageMaker, IAM, CloudWatch, KMS and SNS calls are *recorded from the handler's code*
  (``deployer_calls.py``): it runs against Stubber for a first deployment and for an update, and each request it
  sends is mapped to the IAM authorizations it needs (``OPERATION_ROWS``); an operation without rows fails;
* SageMaker assumes the inference role, pulls the image and reads the registered ``model.tar.gz``, resolved
  from the pipeline's RegisterModel step as the execution model resolves it.

SageMaker's resource names in ARNs: the guide's examples write them in lowercase (``model-package/<group>/1``,
``training-job/pipelines-...``); whether IAM sees an endpoint's or model's name lowercased is not documented,
so every SageMaker resource row is evaluated with the name as written and lowercased.
"""

from __future__ import annotations

from constructs_lib.automation.runtime.endpoint_deployer.config import DeployerConfig
from tests.automation import deployer_shapes as shapes
from tests.security.automation_iam import AutomationIam
from tests.security.deployer_calls import deployer_rows, json_document, spellings
from tests.security.execution_model import TLS_CONTEXT, Call, Execution, all_steps, s3_location

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
    (log_group_resource,) = [v for k, v in iam.of_type("AWS::Logs::LogGroup").items() if k.startswith("Deployment")]
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
