"""The matrix rows of the quality gate and the registration, on a hand-written definition fragment.

Until the definition branch renders ``QualityGate``/``QualityGateFailed``/``RegisterModel`` into
the stages, this fragment, shaped as the pinned SDK renders a ``ModelStep`` register call, pins
what the matrix derives from it and how IAM decides it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.cfn_resolver import CfnEnvironment
from tests.security.execution_model import Execution
from tests.security.iam_evaluator import Decision
from tests.security.iam_reference import reference_violations
from tests.security.pipeline_calls import execution_calls
from tests.security.stack_iam import Role, StackIam

ENV = CfnEnvironment("us-east-1")
SAGEMAKER_ARN = f"arn:aws:sagemaker:us-east-1:{ENV.account}"
PIPELINE_ROLE = f"arn:aws:iam::{ENV.account}:role/pipeline-role"
TRUST = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ENV.account},
                "ArnLike": {"aws:SourceArn": f"{SAGEMAKER_ARN}:pipeline/dev-pytorch-training/*"},
            },
        }
    ]
}
REGISTER = {
    "Name": "RegisterModel-RegisterModel",
    "Type": "RegisterModel",
    "Arguments": {
        "ModelPackageGroupName": "Dev-Models",
        "CustomerMetadataProperties": {"selected_val_auroc": "0.91"},
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
                    "ModelDataUrl": {"Get": "Steps.ModelTraining.ModelArtifacts.S3ModelArtifacts"},
                }
            ],
            "SupportedContentTypes": ["text/csv", "application/json"],
        },
        "ModelApprovalStatus": {"Get": "Parameters.ModelApprovalStatus"},
        "SkipModelValidation": "None",
    },
}
GATE = {
    "Name": "QualityGate",
    "Type": "Condition",
    "Arguments": {
        "Conditions": [
            {
                "Type": "GreaterThanOrEqualTo",
                "LeftValue": {"Get": "Steps.ModelTraining.FinalMetricDataList['Test AUC ROC'].Value"},
                "RightValue": {"Get": "Parameters.QualityThreshold"},
            }
        ],
        "IfSteps": [REGISTER],
        "ElseSteps": [{"Name": "QualityGateFailed", "Type": "Fail", "Arguments": {"ErrorMessage": "below"}}],
    },
}


def registry_grant(status: str = "PendingManualApproval", *, versions: bool = True) -> dict[str, Any]:
    """The grant the registration needs: CreateModelPackage on the group and its versions, one status."""
    resources = [f"{SAGEMAKER_ARN}:model-package-group/dev-models"]
    if versions:
        resources.append(f"{SAGEMAKER_ARN}:model-package/dev-models/*")
    statement = {
        "Effect": "Allow",
        "Action": "sagemaker:CreateModelPackage",
        "Resource": resources,
        "Condition": {"StringEquals": {"sagemaker:ModelApprovalStatus": status}},
    }
    return {"Statement": [statement]}


def fragment_stack(grant: dict[str, Any], default_status: str = "PendingManualApproval") -> StackIam:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "QualityThreshold", "Type": "Float", "DefaultValue": 0.7},
            {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": default_status},
        ],
        "PipelineExperimentConfig": None,
        "Steps": [GATE],
    }
    role = Role("PipelineRole", PIPELINE_ROLE, TRUST, [grant], [])
    return StackIam(ENV, {PIPELINE_ROLE: role}, {}, {}, {}, "dev-pytorch-training", PIPELINE_ROLE, definition)


def decisions(stack: StackIam) -> list[tuple[str, str, dict[str, Any], Decision]]:
    return [
        (call.action, call.resource, dict(call.context), stack.authorize(call.request()))
        for call in execution_calls(Execution(stack))
        if call.action != "sts:AssumeRole"
    ]


def test_registration_rows_name_the_group_and_the_version_in_lowercase() -> None:
    context = {
        "sagemaker:ModelApprovalStatus": "PendingManualApproval",
        "sagemaker:CustomerMetadataProperties/selected_val_auroc": "0.91",
    }
    assert decisions(fragment_stack(registry_grant())) == [
        ("sagemaker:CreateModelPackage", f"{SAGEMAKER_ARN}:model-package-group/dev-models", context, Decision.ALLOW),
        ("sagemaker:CreateModelPackage", f"{SAGEMAKER_ARN}:model-package/dev-models/1", context, Decision.ALLOW),
    ]


def test_the_grant_matches_the_reference() -> None:
    assert reference_violations(registry_grant()["Statement"][0]) == []


@pytest.mark.parametrize(
    ("grant", "default_status", "denied"),
    [
        pytest.param(registry_grant(), "Approved", 2, id="auto-approval-where-the-stage-requires-review"),
        pytest.param(registry_grant(versions=False), "PendingManualApproval", 1, id="group-without-its-versions"),
        pytest.param({"Statement": []}, "PendingManualApproval", 2, id="no-registration-grant"),
    ],
)
def test_registration_rows_can_be_denied(grant: dict[str, Any], default_status: str, denied: int) -> None:
    outcomes = [decision for *_, decision in decisions(fragment_stack(grant, default_status))]
    assert outcomes.count(Decision.IMPLICIT_DENY) == denied


def test_the_gate_and_its_fail_branch_make_no_calls_and_the_pipeline_role_is_assumable() -> None:
    stack = fragment_stack(registry_grant())
    calls = execution_calls(Execution(stack))
    assert {call.row.split(":")[0] for call in calls} == {"execution", "RegisterModel-RegisterModel"}
    (assume,) = [call for call in calls if call.action == "sts:AssumeRole"]
    assert stack.authorize(assume.request()) is Decision.ALLOW
