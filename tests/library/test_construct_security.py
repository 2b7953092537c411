"""The permission matrix, the IAM reference check and cdk-nag on the construct's own stacks (no cdk.json, no flags)."""

from __future__ import annotations

import copy
from typing import Any

import aws_cdk as cdk
import pytest

from tests.library.conftest import IMPORTED_BUCKET, IMPORTED_KEY_ARN, REGION, Built
from tests.security.cfn_resolver import CfnEnvironment
from tests.security.conftest import nag_findings
from tests.security.execution_model import Execution
from tests.security.iam_evaluator import Decision
from tests.security.iam_reference import reference_violations
from tests.security.pipeline_calls import denials, describe, execution_calls
from tests.security.stack_iam import stack_iam
from tests.security.test_iam_reference import identity_statements

BUILT = ("defaults", "imported", "own_trainer")


@pytest.mark.parametrize("lowercase_job_names", [False, True], ids=["job-name-as-step", "job-name-lowercase"])
@pytest.mark.parametrize("fixture", BUILT)
def test_every_call_of_an_execution_is_allowed(
    request: pytest.FixtureRequest, fixture: str, lowercase_job_names: bool
) -> None:
    built: Built = request.getfixturevalue(fixture)
    denied = denials(Execution(built.iam, lowercase_job_names=lowercase_job_names))
    assert denied == [], describe(denied)


@pytest.mark.parametrize("fixture", BUILT)
def test_every_statement_matches_the_reference(request: pytest.FixtureRequest, fixture: str) -> None:
    built: Built = request.getfixturevalue(fixture)
    statements = identity_statements(built.iam)
    assert statements
    violations = [f"{role} {s.get('Sid', '')}: {v}" for role, s in statements for v in reference_violations(s)]
    assert violations == [], "\n".join(violations)


@pytest.mark.parametrize("fixture", BUILT)
def test_cdk_nag_finds_nothing_unacknowledged(request: pytest.FixtureRequest, fixture: str) -> None:
    built: Built = request.getfixturevalue(fixture)
    assert nag_findings(cdk.Stack.of(built.construct)) == []


def test_the_imported_bucket_rows_read_with_its_own_key(imported: Built) -> None:
    """The matrix is not vacuous here: the channels are read from the imported bucket and decrypted with its key."""
    calls = execution_calls(Execution(imported.iam))
    reads = [c for c in calls if c.action == "s3:GetObject" and f":::{IMPORTED_BUCKET}/" in c.resource]
    assert {c.resource.split("/")[-2] for c in reads} == {"train", "val", "test"}
    decrypts = [c for c in calls if c.action == "kms:Decrypt" and c.resource == IMPORTED_KEY_ARN]
    assert len(decrypts) == 3 and all(c.context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com" for c in decrypts)


def _without_statement(template: dict[str, Any], sid: str) -> dict[str, Any]:
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    return template


def test_without_the_decrypt_grant_the_imported_channels_are_denied(imported: Built) -> None:
    """Negative case: drop DecryptInputData and IAM denies exactly the three channel decrypts."""
    broken = stack_iam(
        _without_statement(imported.template, "DecryptInputData"),
        CfnEnvironment(REGION),
        {IMPORTED_BUCKET: IMPORTED_KEY_ARN},
    )
    denied = denials(Execution(broken))
    assert [(c.action, c.resource, d) for c, d in denied] == [
        ("kms:Decrypt", IMPORTED_KEY_ARN, Decision.IMPLICIT_DENY)
    ] * 3, describe(denied)


def test_without_the_prefix_read_grant_the_own_trainers_channels_are_denied(own_trainer: Built) -> None:
    """Negative case on the example: without ReadInput its two channels cannot be read."""
    broken = stack_iam(_without_statement(own_trainer.template, "ReadInput"), CfnEnvironment(REGION))
    denied = denials(Execution(broken))
    assert sorted(c.row for c, _ in denied) == [
        "ModelTraining: channel training: read",
        "ModelTraining: channel validation: read",
    ], describe(denied)
