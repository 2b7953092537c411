"""The test evaluator follows IAM's documented rules (each case cites the rule it pins)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.iam_evaluator import Decision, Request, condition_holds, evaluate, glob_match

ROLE = "arn:aws:iam::111122223333:role/training"
KEY = "arn:aws:kms:us-east-1:111122223333:key/k"


def allow(action: str, resource: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Statement": [statement]}


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("arn:aws:s3:::b/prefix/*", "arn:aws:s3:::b/prefix/a/b.parquet", False, True),  # * spans /
        ("arn:aws:logs:r:a:log-group:/g:*", "arn:aws:logs:r:a:log-group:/g:log-stream:s", False, True),  # and :
        ("arn:aws:logs:r:a:log-group:/g", "arn:aws:logs:r:a:log-group:/g:*", False, False),  # :* is not optional
        ("arn:aws:s3:::B/*", "arn:aws:s3:::b/x", False, False),  # resources are case-sensitive
        ("S3:getobject", "s3:GetObject", True, True),  # actions are not
        ("training-job/pipelines-?", "training-job/pipelines-a", False, True),
    ],
)
def test_wildcards(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert glob_match(pattern, value, ignore_case=ignore_case) is expected


@pytest.mark.parametrize(
    ("operator", "context", "expected"),
    [
        ("Bool", {}, False),  # a missing key makes the condition false ...
        ("BoolIfExists", {}, True),  # ... unless the operator is ...IfExists
        ("StringNotEquals", {}, True),  # a negated operator with a missing key is true
        ("ForAllValues:StringEquals", {}, True),
        ("ForAnyValue:StringEquals", {}, False),
        ("Bool", {"kms:GrantIsForAWSResource": "true"}, True),
        ("Bool", {"KMS:grantisforawsresource": "true"}, True),  # key names are case-insensitive
        ("StringNotEquals", {"kms:GrantIsForAWSResource": "true"}, False),
    ],
)
def test_missing_keys_and_operators(operator: str, context: dict[str, str], expected: bool) -> None:
    assert condition_holds(operator, "kms:GrantIsForAWSResource", "true", context) is expected


def test_arn_like_matches_component_by_component() -> None:
    pattern = "arn:aws:sagemaker:*:111122223333:pipeline/dev/*"
    execution = "arn:aws:sagemaker:eu-west-1:{}:pipeline/dev/execution/x"
    assert condition_holds("ArnLike", "aws:SourceArn", pattern, {"aws:SourceArn": execution.format("111122223333")})
    assert not condition_holds("ArnLike", "aws:SourceArn", pattern, {"aws:SourceArn": execution.format("444455556666")})


def test_null_checks_presence() -> None:
    assert condition_holds("Null", "s3:prefix", "true", {})
    assert not condition_holds("Null", "s3:prefix", "true", {"s3:prefix": "a/"})


def test_the_dead_describe_key_statement_allows_create_grant_only() -> None:
    """DescribeKey's request carries no kms:GrantIsForAWSResource, so the shared Bool condition is false."""
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:DescribeKey"],
                "Resource": KEY,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        ]
    }
    grant = Request(ROLE, "kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": "true"})
    assert evaluate(grant, identity_policies=[policy]) is Decision.ALLOW
    assert evaluate(Request(ROLE, "kms:DescribeKey", KEY), identity_policies=[policy]) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins() -> None:
    request = Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "false"})
    insecure = {"Bool": {"aws:SecureTransport": "false"}}
    deny_statement = {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
    deny = {"Statement": [{**deny_statement, "Condition": insecure}]}
    identity = [allow("s3:GetObject", "arn:aws:s3:::b/*")]
    assert evaluate(request, identity_policies=identity, resource_policy=deny) is Decision.EXPLICIT_DENY
    secure = Request(ROLE, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"})
    assert evaluate(secure, identity_policies=identity, resource_policy=deny) is Decision.ALLOW


def test_kms_needs_the_key_policy() -> None:
    """A key policy that allows the account delegates to IAM; one that does not, blocks IAM grants."""
    request = Request(ROLE, "kms:Decrypt", KEY)
    identity = [allow("kms:Decrypt", KEY)]
    delegating, other_account = (
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*"}]}
        for account in ("111122223333", "444455556666")
    )
    assert evaluate(request, identity_policies=identity, key_policy=delegating) is Decision.ALLOW
    assert evaluate(request, identity_policies=[], key_policy=delegating) is Decision.IMPLICIT_DENY
    assert evaluate(request, identity_policies=identity, key_policy=other_account) is Decision.IMPLICIT_DENY
