"""The calls CloudFormation's deployment makes through the stack's custom resources, as the permission matrix sees them.

Each ``Custom::AWS`` resource (CDK's ``AwsCustomResource``) names the SDK call it makes on create and
update; the call runs in the stack's AwsCustomResource function, under that function's role. Only the
calls this library makes are modelled: another one is an ``UnmodelledError``, not a silent pass.
"""

from __future__ import annotations

import json
from typing import Any

from tests.security.cfn_resolver import TemplateResolver
from tests.security.execution_model import TLS_CONTEXT, Call, UnmodelledError
from tests.security.stack_iam import StackIam

COPY_OBJECT = (
    "Amazon S3 API Reference, CopyObject (s3:GetObject on the source, s3:PutObject on the destination; "
    "SSE-KMS destination: kms:GenerateDataKey), https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html"
)


def deploy_calls(template: dict[str, Any], stack: StackIam) -> list[Call]:
    """Every call the stack's ``Custom::AWS`` resources make at deploy time, by the function's role."""
    resolver = TemplateResolver(template, stack.env)
    calls: list[Call] = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "Custom::AWS":
            continue
        function_id = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        role = str(resolver.resolve(template["Resources"][function_id]["Properties"]["Role"]))
        for phase in ("Create", "Update"):
            sdk_call = json.loads(resolver.resolve(resource["Properties"][phase]))
            calls += _rows(f"{logical_id} {phase.lower()}", sdk_call, role, stack)
    return calls


def _rows(row: str, sdk_call: dict[str, Any], role: str, stack: StackIam) -> list[Call]:
    if (sdk_call["service"], sdk_call["action"]) != ("S3", "copyObject"):
        raise UnmodelledError(f"{row}: {sdk_call['service']}.{sdk_call['action']} has no rows in {__name__}")
    parameters = sdk_call["parameters"]
    partition = stack.env.partition
    source = f"arn:{partition}:s3:::{parameters['CopySource']}"
    bucket = parameters["Bucket"]
    destination = f"arn:{partition}:s3:::{bucket}/{parameters['Key']}"
    calls = [
        Call(f"{row}: read the CDK asset", role, "s3:GetObject", source, TLS_CONTEXT, COPY_OBJECT),
        Call(f"{row}: write the bundle", role, "s3:PutObject", destination, TLS_CONTEXT, COPY_OBJECT),
    ]
    key = stack.bucket_keys.get(bucket)
    if key is not None:  # the destination's default encryption: SSE-KMS with an S3 Bucket Key
        context = {
            "kms:ViaService": f"s3.{stack.env.region}.amazonaws.com",
            "kms:CallerAccount": stack.env.account,
            "kms:EncryptionContext:aws:s3:arn": f"arn:{partition}:s3:::{bucket}",
        }
        calls.append(Call(f"{row}: encrypt the bundle", role, "kms:GenerateDataKey", key, context, COPY_OBJECT))
    return calls
