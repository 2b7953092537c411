"""The calls CloudFormation's deployment makes through the stack's custom resources, as the permission matrix sees them.

Each ``Custom::CodeBundleCopy`` resource copies one CDK asset into the stage's bucket on create and update
(``constructs_lib/runtime/code_copy.py``), in the stack's code-copy function, under that function's role.
Any other custom resource type of this library would be an ``UnmodelledError``, not a silent pass.
"""

from __future__ import annotations

from typing import Any

from constructs_lib.code_bundle import COPY_RESOURCE_TYPE
from tests.security.cfn_resolver import TemplateResolver
from tests.security.execution_model import TLS_CONTEXT, Call, UnmodelledError
from tests.security.stack_iam import StackIam

COPY_OBJECT = (
    "Amazon S3 API Reference, CopyObject (s3:GetObject on the source, s3:PutObject on the destination; "
    "SSE-KMS destination: kms:GenerateDataKey), https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html"
)

CDK_DELETION_ONLY = {"Custom::S3AutoDeleteObjects"}
"""CDK's own custom resources that act only when the stack is deleted (destroy stages), with CDK's own role."""


def deploy_calls(template: dict[str, Any], stack: StackIam) -> list[Call]:
    """Every call the stack's ``Custom::CodeBundleCopy`` resources make at deploy time, by the function's role."""
    resolver = TemplateResolver(template, stack.env)
    calls: list[Call] = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in CDK_DELETION_ONLY:
            continue
        if resource["Type"] == "AWS::CloudFormation::CustomResource" or (
            resource["Type"].startswith("Custom::") and resource["Type"] != COPY_RESOURCE_TYPE
        ):
            raise UnmodelledError(f"{logical_id}: custom resource {resource['Type']} has no rows in {__name__}")
        if resource["Type"] != COPY_RESOURCE_TYPE:
            continue
        function_id = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        role = str(resolver.resolve(template["Resources"][function_id]["Properties"]["Role"]))
        properties = resolver.resolve(resource["Properties"])
        calls += _rows(f"{logical_id} (create and update)", properties, role, stack)
    return calls


def _rows(row: str, properties: dict[str, Any], role: str, stack: StackIam) -> list[Call]:
    partition = stack.env.partition
    source = f"arn:{partition}:s3:::{properties['SourceBucket']}/{properties['SourceKey']}"
    bucket = properties["Bucket"]
    destination = f"arn:{partition}:s3:::{bucket}/{properties['Key']}"
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
