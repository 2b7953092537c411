"""The calls of a ``Training`` step: SageMaker Pipelines starts the job, the job runs under its role.

Every row comes from the step's rendered ``Arguments`` (a CreateTrainingJob request) and cites the
AWS guide page that says the call happens. An argument this module does not know makes the
matrix fail (``UnmodelledError``), so a new feature of the step cannot slip in without rows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.security.execution_model import (
    SAGEMAKER_SERVICE,
    TLS_CONTEXT,
    Call,
    Execution,
    UnmodelledError,
    s3_location,
)

GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg"
ROLES_GUIDE = (
    f"SageMaker guide, How to use SageMaker AI execution roles (CreateTrainingJob), {GUIDE}/sagemaker-roles.html"
)
API_PERMISSIONS = f"SageMaker guide, API Permissions Reference, {GUIDE}/api-permissions-reference.html"
S3_DATA_SOURCE = (
    "SageMaker API Reference, S3DataSource (S3Prefix: every object under the prefix), "
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html"
)
SSE_KMS = (
    "Amazon S3 User Guide, Using SSE-KMS (GenerateDataKey to write, Decrypt to read and for multipart uploads), "
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
)
OUTPUT_GUIDE = (
    "SageMaker guide, How SageMaker AI stores training output (<S3OutputPath>/<job>/output/model.tar.gz and "
    f"output.tar.gz), {GUIDE}/your-algorithms-training-algo-output.html"
)
CHECKPOINTS = f"SageMaker guide, Checkpoints in Amazon SageMaker AI, {GUIDE}/model-checkpoints.html"
PROFILER = f"SageMaker guide, Debugger architecture (<job>/profiler-output/), {GUIDE}/debugger-how-it-works.html"
LOGS = (
    "SageMaker guide, Log Amazon SageMaker AI events with CloudWatch (/aws/sagemaker/TrainingJobs, "
    f"<job>/algo-<n>-<epoch>), {GUIDE}/logging-cloudwatch.html; CloudWatch Logs API Reference, LogGroup "
    "(ARN with :*), https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogGroup.html"
)
METRICS = f"SageMaker guide, Metrics in CloudWatch (/aws/sagemaker/TrainingJobs), {GUIDE}/monitoring-cloudwatch.html"
VPC = f"SageMaker guide, Give training jobs access to resources in your VPC, {GUIDE}/train-vpc.html"
TOOLKIT = (
    "SageMaker Training Toolkit (downloads sagemaker_submit_directory into the container), "
    "https://github.com/aws/sagemaker-training-toolkit"
)
TRUST = f"SageMaker guide, Cross-service confused deputy prevention, {GUIDE}/security-confused-deputy-prevention.html"

ARGUMENTS_WITH_ROWS = {
    "AlgorithmSpecification", "CheckpointConfig", "HyperParameters", "InputDataConfig", "OutputDataConfig",
    "ProfilerConfig", "ResourceConfig", "RoleArn", "VpcConfig",
}  # fmt: skip
SETTINGS_WITHOUT_CALLS = {
    "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining", "EnableNetworkIsolation", "Environment",
    "RetryStrategy", "StoppingCondition",
}  # fmt: skip
"""Settings of the job itself: no call of their own."""
KNOWN_ARGUMENTS = ARGUMENTS_WITH_ROWS | SETTINGS_WITHOUT_CALLS
LOG_EPOCH = "1700000000"


def training_rows(step: dict[str, Any], ex: Execution) -> list[Call]:
    """Every call one run of a ``Training`` step makes, by the pipeline role and by the job's role."""
    arguments = step["Arguments"]
    unknown = sorted(set(arguments) - KNOWN_ARGUMENTS)
    if unknown:
        raise UnmodelledError(f"step {step['Name']}: Training arguments {unknown} have no rows in {__name__}")
    job = ex.job_name(step["Name"])
    job_arn = ex.arn("sagemaker", f"training-job/{ex.arn_name(job)}")
    role = str(ex.value(arguments["RoleArn"]))
    return [
        *_pipeline_role_rows(step["Name"], arguments, ex, job_arn, role),
        Call(
            f"{step['Name']}: SageMaker assumes the job's role",
            SAGEMAKER_SERVICE,
            "sts:AssumeRole",
            role,
            {"aws:SourceArn": job_arn, "aws:SourceAccount": ex.stack.env.account},
            TRUST,
        ),
        *_channel_rows(step["Name"], arguments, ex, role),
        *_code_rows(step["Name"], arguments, ex, role),
        *_output_rows(step["Name"], arguments, ex, role, job),
        *_volume_rows(step["Name"], arguments, ex, role),
        *_log_and_metric_rows(step["Name"], arguments, ex, role, job),
        *_image_rows(step["Name"], arguments, ex, role),
        *_vpc_rows(step["Name"], arguments, ex, role),
    ]


def _pipeline_role_rows(name: str, arguments: dict[str, Any], ex: Execution, job_arn: str, role: str) -> list[Call]:
    """CreateTrainingJob needs sagemaker:CreateTrainingJob and iam:PassRole (API Permissions Reference)."""
    caller = ex.stack.pipeline_role_arn
    resources = arguments["ResourceConfig"]
    create_context = {
        "sagemaker:InstanceTypes": [resources["InstanceType"]],
        **({"sagemaker:VolumeKmsKey": resources["VolumeKmsKeyId"]} if "VolumeKmsKeyId" in resources else {}),
        **(
            {"sagemaker:OutputKmsKey": arguments["OutputDataConfig"]["KmsKeyId"]}
            if "KmsKeyId" in arguments["OutputDataConfig"]
            else {}
        ),
    }
    return [
        Call(f"{name}: start the job", caller, "sagemaker:CreateTrainingJob", job_arn, create_context, API_PERMISSIONS),
        Call(
            f"{name}: pass the job's role",
            caller,
            "iam:PassRole",
            role,
            {"iam:PassedToService": SAGEMAKER_SERVICE},
            API_PERMISSIONS,
        ),
        Call(f"{name}: tag the job", caller, "sagemaker:AddTags", job_arn, {}, API_PERMISSIONS),
        Call(f"{name}: watch the job", caller, "sagemaker:DescribeTrainingJob", job_arn, {}, API_PERMISSIONS),
        Call(
            f"{name}: stop the job with the execution",
            caller,
            "sagemaker:StopTrainingJob",
            job_arn,
            {},
            API_PERMISSIONS,
        ),
    ]


def _kms_rows(
    row: str, ex: Execution, role: str, bucket: str, *, actions: tuple[str, ...], key: str | None = None
) -> list[Call]:
    """The KMS calls S3 makes for the caller on an SSE-KMS bucket (S3 Bucket Key: context is the bucket ARN)."""
    key = key or ex.stack.bucket_keys.get(bucket)
    if key is None:  # not a bucket of this stack (the CDK asset bucket): its AWS managed key's policy decides
        return []
    context = {
        "kms:ViaService": f"s3.{ex.stack.env.region}.amazonaws.com",
        "kms:CallerAccount": ex.stack.env.account,
        "kms:EncryptionContext:aws:s3:arn": ex.s3_arn(bucket),
    }
    return [Call(f"{row} (SSE-KMS)", role, action, key, context, SSE_KMS) for action in actions]


def _s3_read(
    row: str, ex: Execution, role: str, uri: str, *, source: str, sample: str = "part-00000.parquet"
) -> list[Call]:
    """ListBucket with the prefix, GetObject on an object under it, and the Decrypt that GetObject needs."""
    bucket, prefix = s3_location(uri)
    an_object = f"{prefix}{sample}" if prefix.endswith("/") or not prefix else prefix
    return [
        Call(f"{row}: list", role, "s3:ListBucket", ex.s3_arn(bucket), {**TLS_CONTEXT, "s3:prefix": prefix}, source),
        Call(f"{row}: read", role, "s3:GetObject", ex.s3_arn(bucket, an_object), TLS_CONTEXT, source),
        *_kms_rows(row, ex, role, bucket, actions=("kms:Decrypt",)),
    ]


def _s3_write(row: str, ex: Execution, role: str, uri: str, *, source: str, key: str | None = None) -> list[Call]:
    """PutObject, plus GenerateDataKey (and Decrypt, for multipart uploads) on the encrypting key."""
    bucket, object_key = s3_location(uri)
    return [
        Call(f"{row}: write", role, "s3:PutObject", ex.s3_arn(bucket, object_key), TLS_CONTEXT, source),
        *_kms_rows(row, ex, role, bucket, actions=("kms:GenerateDataKey", "kms:Decrypt"), key=key),
    ]


def _channel_rows(name: str, arguments: dict[str, Any], ex: Execution, role: str) -> list[Call]:
    calls = []
    for channel in arguments.get("InputDataConfig", []):
        source = channel["DataSource"].get("S3DataSource")
        if source is None or source.get("S3DataType") != "S3Prefix":
            raise UnmodelledError(f"step {name}: channel {channel['ChannelName']} is not an S3Prefix data source")
        uri = str(ex.value(source["S3Uri"]))
        calls += _s3_read(f"{name}: channel {channel['ChannelName']}", ex, role, uri, source=S3_DATA_SOURCE)
    return calls


def _code_rows(name: str, arguments: dict[str, Any], ex: Execution, role: str) -> list[Call]:
    bundle = arguments.get("HyperParameters", {}).get("sagemaker_submit_directory")
    if bundle is None:
        return []
    bucket, key = s3_location(json.loads(bundle))
    row = f"{name}: code bundle"
    return [
        Call(f"{row}: read", role, "s3:GetObject", ex.s3_arn(bucket, key), TLS_CONTEXT, TOOLKIT),
        *_kms_rows(row, ex, role, bucket, actions=("kms:Decrypt",)),
    ]


def _output_rows(name: str, arguments: dict[str, Any], ex: Execution, role: str, job: str) -> list[Call]:
    """model.tar.gz and output.tar.gz under <S3OutputPath>/<job>/output/, checkpoints, profiler output."""
    output = arguments["OutputDataConfig"]
    path, output_key = str(ex.value(output["S3OutputPath"])).rstrip("/"), output.get("KmsKeyId")
    calls = []
    for artifact in ("model.tar.gz", "output.tar.gz"):
        uri = f"{path}/{job}/output/{artifact}"
        calls += _s3_write(f"{name}: {artifact}", ex, role, uri, source=OUTPUT_GUIDE, key=output_key)
    if output_key:  # "If you specify a KMS key in the output configuration of your training job": kms:Encrypt
        calls.append(Call(f"{name}: output key", role, "kms:Encrypt", output_key, {}, ROLES_GUIDE))
    if "CheckpointConfig" in arguments:
        checkpoints = str(ex.value(arguments["CheckpointConfig"]["S3Uri"])).rstrip("/")
        row = f"{name}: checkpoint sync"
        calls += _s3_read(row, ex, role, f"{checkpoints}/", source=CHECKPOINTS, sample="checkpoint.pt")
        calls += _s3_write(row, ex, role, f"{checkpoints}/checkpoint.pt", source=CHECKPOINTS)
    profiler = arguments.get("ProfilerConfig", {})
    if profiler and not profiler.get("DisableProfiler"):
        report = f"{str(ex.value(profiler['S3OutputPath'])).rstrip('/')}/{job}/profiler-output/system/incremental/"
        calls += _s3_write(f"{name}: profiler output", ex, role, f"{report}{LOG_EPOCH}.algo-1.json", source=PROFILER)
    return calls


def _volume_rows(name: str, arguments: dict[str, Any], ex: Execution, role: str) -> list[Call]:
    """The roles guide: "If you specify a volume KMS key in the resource configuration ...": kms:CreateGrant."""
    key = arguments["ResourceConfig"].get("VolumeKmsKeyId")
    if key is None:
        return []
    context = {
        "kms:GrantIsForAWSResource": "true",
        "kms:ViaService": f"sagemaker.{ex.stack.env.region}.amazonaws.com",
        "kms:CallerAccount": ex.stack.env.account,
    }
    return [Call(f"{name}: volume key", role, "kms:CreateGrant", str(key), context, ROLES_GUIDE)]


def _log_and_metric_rows(name: str, arguments: dict[str, Any], ex: Execution, role: str, job: str) -> list[Call]:
    group = ex.arn("logs", "log-group:/aws/sagemaker/TrainingJobs")
    calls = [
        Call(f"{name}: log group", role, f"logs:{a}", f"{group}:*", {}, LOGS)
        for a in ("CreateLogGroup", "DescribeLogStreams")
    ]
    for host in range(1, int(arguments["ResourceConfig"]["InstanceCount"]) + 1):
        stream = f"{group}:log-stream:{job}/algo-{host}-{LOG_EPOCH}"
        calls += [
            Call(f"{name}: log stream of algo-{host}", role, f"logs:{a}", stream, {}, LOGS)
            for a in ("CreateLogStream", "PutLogEvents")
        ]
    namespace = {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}
    calls.append(Call(f"{name}: metrics", role, "cloudwatch:PutMetricData", "*", namespace, METRICS))
    return calls


def _image_rows(name: str, arguments: dict[str, Any], ex: Execution, role: str) -> list[Call]:
    """The ECR login (no resource-level permissions) and the pulls from the image's repository."""
    image = str(arguments["AlgorithmSpecification"]["TrainingImage"])
    registry, _, path = image.partition("/")
    account, _, _, region = registry.split(".")[:4]
    repository = f"arn:{ex.stack.env.partition}:ecr:{region}:{account}:repository/{re.split('[:@]', path)[0]}"
    pulls = ("BatchCheckLayerAvailability", "BatchGetImage", "GetDownloadUrlForLayer")
    return [
        Call(f"{name}: registry login", role, "ecr:GetAuthorizationToken", "*", {}, ROLES_GUIDE),
        *(Call(f"{name}: image pull", role, f"ecr:{a}", repository, {}, ROLES_GUIDE) for a in pulls),
    ]


def _vpc_rows(name: str, arguments: dict[str, Any], ex: Execution, role: str) -> list[Call]:
    """One network interface per instance in the configured subnets and security groups."""
    vpc = arguments.get("VpcConfig")
    if not vpc:
        return []
    interface = ex.arn("ec2", "network-interface/eni-0123456789abcdef0")
    subnets = [ex.arn("ec2", f"subnet/{subnet}") for subnet in vpc["Subnets"]]
    groups = [ex.arn("ec2", f"security-group/{group}") for group in vpc["SecurityGroupIds"]]
    in_subnet = {"ec2:Subnet": subnets[0]}
    describe = (
        "DescribeDhcpOptions",
        "DescribeNetworkInterfaces",
        "DescribeSecurityGroups",
        "DescribeSubnets",
        "DescribeVpcs",
    )
    manage = ("CreateNetworkInterfacePermission", "DeleteNetworkInterface", "DeleteNetworkInterfacePermission")
    return [
        *(Call(f"{name}: VPC lookup", role, f"ec2:{a}", "*", {}, VPC) for a in describe),
        *(
            Call(f"{name}: create the job's interface", role, "ec2:CreateNetworkInterface", resource, in_subnet, VPC)
            for resource in (interface, *subnets, *groups)
        ),
        *(Call(f"{name}: manage the job's interface", role, f"ec2:{a}", interface, in_subnet, VPC) for a in manage),
    ]
