"""The IAM view of a stage with automation: ``StackIam`` plus SNS topic policies and Lambda permissions.

``StackIam.authorize`` judges identity, bucket, key and trust policies. The automation adds two kinds of
resource policy that decide calls made by services:

* an ``AWS::SNS::TopicPolicy``: "For Lambda, Amazon SNS, Amazon SQS, and Amazon CloudWatch Logs resources,
  EventBridge uses resource-based policies" (EventBridge User Guide, "Using resource-based policies for
  Amazon EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html);
* an ``AWS::Lambda::Permission``: a statement of the function's policy with ``Principal``, ``Action`` and,
  with ``SourceArn``, the condition ``ArnLike: {"AWS:SourceArn": ...}`` (AWS Lambda Developer Guide,
  "Viewing resource-based IAM policies in Lambda", https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.security.cfn_resolver import CfnEnvironment, TemplateResolver
from tests.security.iam_evaluator import Decision, Request, evaluate
from tests.security.stack_iam import StackIam, stack_iam


@dataclass(frozen=True)
class AutomationIam:
    """A stage's IAM with the automation's resource policies, and its resolved template."""

    stack: StackIam
    template: dict[str, Any]
    resolver: TemplateResolver
    topic_policies: dict[str, dict[str, Any]]
    function_policies: dict[str, dict[str, Any]]

    def authorize(self, request: Request) -> Decision:
        """IAM's decision, with a topic's or function's policy as the resource policy when it is one of the stack's."""
        resource_policy = self.topic_policies.get(request.resource) or self.function_policies.get(request.resource)
        if resource_policy is None:
            return self.stack.authorize(request)
        role = self.stack.roles.get(request.principal)
        return evaluate(
            request, identity_policies=role.identity_policies if role else [], resource_policy=resource_policy
        )

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def role_arn(self, logical_prefix: str) -> str:
        return self.stack.role(logical_prefix).arn

    def resolved(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def deployer_document(self) -> dict[str, Any]:
        """The deployer's ``DEPLOYER_CONFIG``, resolved: the names and ARNs it deploys with."""
        ((_, function),) = [
            (k, v) for k, v in self.of_type("AWS::Lambda::Function").items() if k.startswith("DeploymentDeployer")
        ]
        document: dict[str, Any] = json.loads(
            self.resolved(function["Properties"]["Environment"]["Variables"]["DEPLOYER_CONFIG"])
        )
        return document


def _lambda_policies(template: dict[str, Any], resolver: TemplateResolver) -> dict[str, dict[str, Any]]:
    policies: dict[str, dict[str, Any]] = {}
    for permission in template["Resources"].values():
        if permission["Type"] != "AWS::Lambda::Permission":
            continue
        properties = resolver.resolve(permission["Properties"])
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"Service": properties["Principal"]},
            "Action": properties["Action"],
            "Resource": properties["FunctionName"],
        }
        if "SourceArn" in properties:
            statement["Condition"] = {"ArnLike": {"AWS:SourceArn": properties["SourceArn"]}}
        policies.setdefault(properties["FunctionName"], {"Statement": []})["Statement"].append(statement)
    return policies


def automation_iam(template: dict[str, Any], env: CfnEnvironment) -> AutomationIam:
    """Resolve ``template`` in ``env`` with its topic policies and Lambda permissions."""
    resolver = TemplateResolver(template, env)
    topic_policies = {}
    for policy in template["Resources"].values():
        if policy["Type"] == "AWS::SNS::TopicPolicy":
            document = resolver.resolve(policy["Properties"]["PolicyDocument"])
            for topic in resolver.resolve(policy["Properties"]["Topics"]):
                topic_policies[str(topic)] = document
    return AutomationIam(
        stack_iam(template, env), template, resolver, topic_policies, _lambda_policies(template, resolver)
    )
