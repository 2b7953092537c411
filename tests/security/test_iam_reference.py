"""Every identity-policy statement of every stage, checked against AWS's Service Authorization Reference.

cdk-nag, cfn-lint and checkov do not know which resource types an action accepts or which
condition keys it supports; the reference does (``tests/security/iam_reference.py``).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.security.cfn_resolver import CfnEnvironment
from tests.security.conftest import ALL_STAGES, BuiltApp
from tests.security.iam_reference import reference_violations
from tests.security.stack_iam import StackIam, stack_iam

DEAD_DESCRIBE_KEY = {
    "Action": ["kms:CreateGrant", "kms:DescribeKey"],
    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    "Effect": "Allow",
    "Resource": {"Fn::GetAtt": ["StorageKeyBAA9457B", "Arn"]},
}
"""The pipeline role's statement before issue 8: DescribeKey behind a key only grant operations carry."""


def identity_statements(stack: StackIam) -> list[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every statement of every identity policy of the stack's roles."""
    return [
        (role.logical_id, statement)
        for role in stack.roles.values()
        for policy in role.identity_policies
        for statement in policy["Statement"]
    ]


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_statement_matches_the_reference(stack_models: dict[str, StackIam], stage: str) -> None:
    statements = identity_statements(stack_models[stage])
    for role in ("TrainingRole", "PipelineRole"):
        assert any(logical_id.startswith(role) for logical_id, _ in statements), f"no statement of the {role}"
    violations = [f"{role} {s.get('Sid', '')}: {v}" for role, s in statements for v in reference_violations(s)]
    assert violations == [], "\n".join(violations)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        pytest.param(
            {
                "Effect": "Allow",
                "Action": "kms:DescribeKey",
                "Resource": "arn:aws:kms:us-east-1:111122223333:key/k",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            "kms:DescribeKey does not support condition key kms:GrantIsForAWSResource",
            id="condition-key-the-action-lacks",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket/prefix/*"},
            "s3:ListBucket on arn:aws:s3:::bucket/prefix/*, which matches none of its resource types",
            id="object-arn-for-a-bucket-action",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            "s3:GetObject on '*', but it accepts resource types",
            id="star-where-resource-types-exist",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "arn:aws:ecr:us-east-1:1:repo/x"},
            "ecr:GetAuthorizationToken has no resource types, so its Resource must be '*'",
            id="arn-where-only-star-works",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "sagemaker:CreateTrainingJobs", "Resource": "*"},
            "sagemaker:CreateTrainingJobs is not an action",
            id="misspelt-action",
        ),
    ],
)
def test_the_reference_check_can_fail(statement: dict[str, Any], expected: str) -> None:
    assert any(expected in violation for violation in reference_violations(statement)), reference_violations(statement)


def test_a_reintroduced_dead_describe_key_fails_the_reference_check(built: BuiltApp) -> None:
    """Put the pre-issue-8 KMS statement back on dev's pipeline role: the check names DescribeKey and the key."""
    template = copy.deepcopy(built.template("dev"))
    policy = next(
        resource["Properties"]["PolicyDocument"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and resource["Properties"]["Roles"][0]["Ref"].startswith("Pipeline")
    )
    policy["Statement"].append(DEAD_DESCRIBE_KEY)
    stack = stack_iam(template, CfnEnvironment(built.stacks["dev"].region))
    violations = [v for _, statement in identity_statements(stack) for v in reference_violations(statement)]
    assert violations == [
        "kms:DescribeKey does not support condition key kms:GrantIsForAWSResource, so the condition is never met"
    ]
