"""The IAM side of one synthesized stage, resolved: roles, their policies, and the resource policies that apply.

``StackIam.authorize`` decides one request the way AWS would for this stack: the calling role's
identity policies, plus the bucket policy of a stack bucket, the key policy of a stack key, or the
trust policy of a stack role (``sts:AssumeRole``). Resources outside the stack (the CDK asset
bucket, AWS's ECR repositories, an imported data bucket and its key) are judged by the identity
policy alone: an imported key's policy is assumed to be KMS's default, which lets the account's IAM
policies grant its use ("Default key policy", AWS KMS Developer Guide,
https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.security.cfn_resolver import CfnEnvironment, TemplateResolver, pipeline_definition
from tests.security.iam_evaluator import Decision, Request, evaluate


@dataclass(frozen=True)
class Role:
    """One role of the stack, resolved."""

    logical_id: str
    arn: str
    trust_policy: dict[str, Any]
    identity_policies: list[dict[str, Any]]
    managed_policy_arns: list[str]


@dataclass(frozen=True)
class StackIam:
    """Roles, bucket and key policies, and the pipeline of one stage, with concrete ARNs."""

    env: CfnEnvironment
    roles: dict[str, Role]
    bucket_policies: dict[str, dict[str, Any]]
    bucket_keys: dict[str, str]
    key_policies: dict[str, dict[str, Any]]
    pipeline_name: str
    pipeline_role_arn: str
    definition: dict[str, Any]

    def authorize(self, request: Request) -> Decision:
        """IAM's decision on ``request`` with every policy of this stack that applies to it."""
        role = self.roles.get(request.principal)
        if role and role.managed_policy_arns:
            raise AssertionError(f"{role.logical_id} has managed policies, which this offline evaluation cannot read")
        identity = role.identity_policies if role else []
        resource_policy = None
        if request.action.lower() == "sts:assumerole":
            resource_policy = self.roles[request.resource].trust_policy
        elif request.resource.startswith(s3_prefix := f"arn:{self.env.partition}:s3:::"):
            bucket = request.resource.removeprefix(s3_prefix).split("/", 1)[0]
            resource_policy = self.bucket_policies.get(bucket)
        return evaluate(
            request,
            identity_policies=identity,
            resource_policy=resource_policy,
            key_policy=self.key_policies.get(request.resource) if request.action.lower().startswith("kms:") else None,
        )

    def role(self, logical_prefix: str) -> Role:
        """The one role whose logical id starts with ``logical_prefix`` (e.g. ``TrainingRole``)."""
        (role,) = [r for r in self.roles.values() if r.logical_id.startswith(logical_prefix)]
        return role


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _identity_policies(template: dict[str, Any], logical_id: str, resolver: TemplateResolver) -> list[dict[str, Any]]:
    role = template["Resources"][logical_id]["Properties"]
    documents = [resolver.resolve(p["PolicyDocument"]) for p in role.get("Policies", [])]
    for resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in _of_type(template, resource_type).values():
            if {"Ref": logical_id} in policy["Properties"].get("Roles", []):
                documents.append(resolver.resolve(policy["Properties"]["PolicyDocument"]))
    return documents


def _bucket_key(bucket: dict[str, Any], resolver: TemplateResolver) -> str | None:
    rules = bucket.get("Properties", {}).get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    for rule in rules:
        default = rule["ServerSideEncryptionByDefault"]
        if default["SSEAlgorithm"] == "aws:kms" and "KMSMasterKeyID" in default:
            return str(resolver.resolve(default["KMSMasterKeyID"]))
    return None


def stack_iam(
    template: dict[str, Any], env: CfnEnvironment, external_bucket_keys: dict[str, str] | None = None
) -> StackIam:
    """Resolve ``template``'s IAM-relevant parts in ``env``.

    ``external_bucket_keys``: bucket name -> key ARN of buckets outside the template (an imported data
    bucket), so reads from them also need ``kms:Decrypt`` on their key.
    """
    resolver = TemplateResolver(template, env)
    roles = {
        resolver.get_att(logical_id, "Arn"): Role(
            logical_id,
            resolver.get_att(logical_id, "Arn"),
            resolver.resolve(resource["Properties"]["AssumeRolePolicyDocument"]),
            _identity_policies(template, logical_id, resolver),
            resolver.resolve(resource["Properties"].get("ManagedPolicyArns", [])),
        )
        for logical_id, resource in _of_type(template, "AWS::IAM::Role").items()
    }
    buckets = {logical_id: resolver.ref(logical_id) for logical_id in _of_type(template, "AWS::S3::Bucket")}
    bucket_policies = {
        str(resolver.resolve(p["Properties"]["Bucket"])): resolver.resolve(p["Properties"]["PolicyDocument"])
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
    }
    bucket_keys = {
        name: key
        for logical_id, name in buckets.items()
        if (key := _bucket_key(template["Resources"][logical_id], resolver))
    } | dict(external_bucket_keys or {})
    key_policies = {
        resolver.get_att(logical_id, "Arn"): resolver.resolve(key["Properties"]["KeyPolicy"])
        for logical_id, key in _of_type(template, "AWS::KMS::Key").items()
    }
    (pipeline,) = _of_type(template, "AWS::SageMaker::Pipeline").values()
    return StackIam(
        env=env,
        roles=roles,
        bucket_policies=bucket_policies,
        bucket_keys=bucket_keys,
        key_policies=key_policies,
        pipeline_name=str(resolver.resolve(pipeline["Properties"]["PipelineName"])),
        pipeline_role_arn=str(resolver.resolve(pipeline["Properties"]["RoleArn"])),
        definition=pipeline_definition(template, resolver),
    )
