"""Synthesized templates made concrete: every intrinsic resolved as CloudFormation would in a fake account.

The IAM reference test and the permission matrix reason about real ARNs, so ``Ref``,
``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub`` and the pseudo parameters are resolved for account
``FAKE_ACCOUNT`` in the stage's region. Physical names are derived from logical ids. An
intrinsic or resource type this module does not know raises ``UnresolvableError``: a test
fails rather than guessing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

FAKE_ACCOUNT = "111122223333"
PARTITION = "aws"
SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]+)\}")


class UnresolvableError(KeyError):
    """The template uses an intrinsic or resource type the resolver does not model."""


@dataclass(frozen=True)
class CfnEnvironment:
    """Where the template is resolved."""

    region: str
    account: str = FAKE_ACCOUNT
    partition: str = PARTITION


class TemplateResolver:
    """Resolves CloudFormation values of one template in one environment."""

    def __init__(self, template: dict[str, Any], env: CfnEnvironment) -> None:
        self.resources: dict[str, dict[str, Any]] = template["Resources"]
        self.env = env

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its string value."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        (name, argument), *rest = value.items()
        if rest or not (name == "Ref" or name.startswith("Fn::")):
            return {key: self.resolve(item) for key, item in value.items()}
        intrinsics = {"Ref": self.ref, "Fn::GetAtt": self._get_att, "Fn::Join": self._join, "Fn::Sub": self._sub}
        if name not in intrinsics:
            raise UnresolvableError(f"intrinsic {name} is not modelled by tests/security/cfn_resolver.py")
        return intrinsics[name](argument)

    def ref(self, name: str) -> str:
        """``Ref`` of a pseudo parameter or a resource (its primary identifier)."""
        pseudo = {
            "AWS::Partition": self.env.partition,
            "AWS::Region": self.env.region,
            "AWS::AccountId": self.env.account,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        resource_type = self._type(name)
        if resource_type == "AWS::SageMaker::ModelPackageGroup":  # Ref returns the primary identifier, the ARN
            return self.get_att(name, "ModelPackageGroupArn")
        if resource_type == "AWS::SNS::Topic":  # Ref returns the topic ARN
            return f"arn:{self.env.partition}:sns:{self.env.region}:{self.env.account}:{self._physical_name(name)}"
        return self._physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        """``Fn::GetAtt`` of the ARN-like attributes the stack's policies and definition use."""
        resource_type, env = self._type(logical_id), self.env
        name = self._physical_name(logical_id)
        arns = {
            ("AWS::S3::Bucket", "Arn"): f"arn:{env.partition}:s3:::{name}",
            ("AWS::KMS::Key", "Arn"): f"arn:{env.partition}:kms:{env.region}:{env.account}:key/{name}",
            ("AWS::IAM::Role", "Arn"): f"arn:{env.partition}:iam::{env.account}:role/{name}",
            ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupArn"): (
                f"arn:{env.partition}:sagemaker:{env.region}:{env.account}:model-package-group/{name.lower()}"
            ),
            # CloudFormation's LogGroup Arn attribute ends in :* (AWS::Logs::LogGroup, return values)
            ("AWS::Logs::LogGroup", "Arn"): f"arn:{env.partition}:logs:{env.region}:{env.account}:log-group:{name}:*",
            ("AWS::Events::Rule", "Arn"): f"arn:{env.partition}:events:{env.region}:{env.account}:rule/{name}",
            ("AWS::Lambda::Function", "Arn"): f"arn:{env.partition}:lambda:{env.region}:{env.account}:function:{name}",
        }
        if (resource_type, attribute) not in arns:
            raise UnresolvableError(f"Fn::GetAtt {logical_id}.{attribute} ({resource_type}) is not modelled")
        return arns[(resource_type, attribute)]

    def _get_att(self, argument: str | list[str]) -> str:
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return self.get_att(logical_id, attribute)

    def _join(self, argument: list[Any]) -> str:
        separator, parts = argument
        return str(separator).join(str(self.resolve(part)) for part in parts)

    def _type(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise UnresolvableError(f"Ref to {logical_id}, which is neither a resource nor a known pseudo parameter")
        resource_type: str = self.resources[logical_id]["Type"]
        return resource_type

    def _physical_name(self, logical_id: str) -> str:
        """The name CloudFormation gives the resource: its name property, or one derived from the logical id."""
        resource_type = self._type(logical_id)
        name_properties = {
            "AWS::S3::Bucket": "BucketName",
            "AWS::IAM::Role": "RoleName",
            "AWS::SageMaker::Pipeline": "PipelineName",
            "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
            "AWS::KMS::Key": None,
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Events::Rule": "Name",
            "AWS::Lambda::Function": "FunctionName",
        }
        if resource_type not in name_properties:
            raise UnresolvableError(f"physical name of {logical_id} ({resource_type}) is not modelled")
        properties = self.resources[logical_id].get("Properties", {})
        name_property = name_properties[resource_type]
        if name_property and name_property in properties:
            return str(self.resolve(properties[name_property]))
        return f"{logical_id.lower()}-generated"  # lowercase: a valid bucket name and key id alike

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            literal, name = match.groups()
            if literal:
                return "${" + name
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return SUB_VARIABLE.sub(replace, text)


def pipeline_definition(template: dict[str, Any], resolver: TemplateResolver) -> dict[str, Any]:
    """The stack's one pipeline definition, with every CDK token resolved."""
    pipelines = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    if len(pipelines) != 1:
        raise UnresolvableError(f"expected one AWS::SageMaker::Pipeline, found {len(pipelines)}")
    body = resolver.resolve(pipelines[0]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"])
    definition: dict[str, Any] = json.loads(body)
    return definition
