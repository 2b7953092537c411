"""The matrix rows of the quality gate and the registration, on the stages' rendered definitions.

What the rows model (``tests/security/registry_calls.py``): ``CreateModelPackage`` on the group
and on the new version by the pipeline role, with the request's approval status and customer
metadata as condition keys, then ``DescribeModelPackage``; the step properties the registration
passes are the values Pipelines resolves at run time (the training job's name and its
``model.tar.gz``). The stage's approval policy is IAM's: a ``PendingManualApproval`` stage's
pipeline role cannot register a version as ``Approved``, whatever the run passes.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from constructs_lib.config.stage_config import StageConfig
from tests.security.execution_model import Execution, UnmodelledError, all_steps
from tests.security.iam_evaluator import Decision
from tests.security.pipeline_calls import execution_calls
from tests.security.stack_iam import StackIam

REGISTER = "RegisterModel-RegisterModel"


def _step(definition: dict[str, Any], step_type: str) -> dict[str, Any]:
    (step,) = [step for step in all_steps(definition) if step["Type"] == step_type]
    return step


def _registration(ex: Execution) -> list[tuple[str, str, str, Decision]]:
    """(row, action, resource name, decision) of each registration call."""
    return [
        (
            call.row.removeprefix(f"{REGISTER}: "),
            call.action,
            call.resource.split(":")[-1],
            ex.stack.authorize(call.request()),
        )
        for call in execution_calls(ex)
        if call.row.startswith(REGISTER)
    ]


def _edited(stack: StackIam, edit: Callable[[dict[str, Any]], None]) -> StackIam:
    definition = copy.deepcopy(stack.definition)
    edit(definition)
    return dataclasses.replace(stack, definition=definition)


def test_registration_passes_what_the_training_job_produced(stack_models: dict[str, StackIam]) -> None:
    """ModelDataUrl and TrainingJobName resolve to the job's own output, under the prefix the training role writes."""
    ex = Execution(stack_models["dev"])
    request = ex.resolve(_step(ex.definition, "RegisterModel")["Arguments"])
    (artifacts,) = [name for name in ex.stack.bucket_keys if name.startswith("storageartifactsbucket")]
    job = f"pipelines-{ex.execution_id}-ModelTraining-TavD6f3WDf"
    (container,) = request["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == f"s3://{artifacts}/training-output/{job}/output/model.tar.gz"
    assert request["CustomerMetadataProperties"]["TrainingJobName"] == job
    assert request["ModelPackageDescription"].endswith(f"pipeline/dev-pytorch-training/execution/{ex.execution_id}")
    lowercase = Execution(stack_models["dev"], lowercase_job_names=True)
    lowercase_request = lowercase.resolve(_step(ex.definition, "RegisterModel")["Arguments"])
    assert lowercase_request["CustomerMetadataProperties"]["TrainingJobName"] == job.lower()


def test_registration_rows_and_nothing_else_by_the_pipeline_role(stack_models: dict[str, StackIam]) -> None:
    """Registration reads neither the model nor the image: the pipeline role makes only SageMaker and PassRole calls."""
    ex = Execution(stack_models["dev"])
    assert _registration(ex) == [
        (
            "register in the group",
            "sagemaker:CreateModelPackage",
            "model-package-group/dev-pytorch-models",
            Decision.ALLOW,
        ),
        ("create the version", "sagemaker:CreateModelPackage", "model-package/dev-pytorch-models/1", Decision.ALLOW),
        (
            "read the version back",
            "sagemaker:DescribeModelPackage",
            "model-package/dev-pytorch-models/1",
            Decision.ALLOW,
        ),
    ]
    by_pipeline_role = {c.action for c in execution_calls(ex) if c.principal == ex.stack.pipeline_role_arn}
    assert {action.split(":")[0] for action in by_pipeline_role} == {"sagemaker", "iam"}
    assert not [c for c in execution_calls(ex) if c.row.startswith(("QualityGate:", "QualityGateFailed:"))]


@pytest.mark.parametrize(
    ("stage", "status", "allowed"),
    [
        pytest.param("dev", "Approved", False, id="review-stage-cannot-auto-approve"),
        pytest.param("dev", "PendingManualApproval", True, id="review-stage-registers-pending"),
        pytest.param("destroy", "Approved", True, id="approving-stage-auto-approves"),
        pytest.param("destroy", "PendingManualApproval", True, id="approving-stage-registers-pending"),
    ],
)
def test_registration_follows_the_stage_approval_policy(
    stack_models: dict[str, StackIam], stage_configs: dict[str, StageConfig], stage: str, status: str, allowed: bool
) -> None:
    """A run started with ``ModelApprovalStatus=<status>``: IAM allows it only with the stage's statuses."""
    assert stage_configs["dev"].registry.approval_status == "PendingManualApproval"
    assert stage_configs["destroy"].registry.approval_status == "Approved"
    ex = Execution(stack_models[stage], overrides={"ModelApprovalStatus": status})
    calls = [c for c in execution_calls(ex) if c.action == "sagemaker:CreateModelPackage"]
    assert [c.context["sagemaker:ModelApprovalStatus"] for c in calls] == [status, status]
    assert {ex.stack.authorize(c.request()) for c in calls} == {Decision.ALLOW if allowed else Decision.IMPLICIT_DENY}


def test_a_request_without_an_approval_status_is_denied(stack_models: dict[str, StackIam]) -> None:
    """IAM: a condition key the request does not carry never matches, so the status condition denies it."""
    stack = _edited(stack_models["dev"], lambda d: _step(d, "RegisterModel")["Arguments"].pop("ModelApprovalStatus"))
    outcomes = [decision for _, action, _, decision in _registration(Execution(stack)) if "Create" in action]
    assert outcomes == [Decision.IMPLICIT_DENY, Decision.IMPLICIT_DENY]


def test_a_mixed_case_group_is_authorized_on_lowercase_arns(stack_models: dict[str, StackIam]) -> None:
    def rename(definition: dict[str, Any]) -> None:
        _step(definition, "RegisterModel")["Arguments"]["ModelPackageGroupName"] = "Dev-PyTorch-Models"

    resources = [resource for _, _, resource, _ in _registration(Execution(_edited(stack_models["dev"], rename)))]
    assert resources == [
        "model-package-group/dev-pytorch-models",
        "model-package/dev-pytorch-models/1",
        "model-package/dev-pytorch-models/1",
    ]


def _set(step_type: str, path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(definition: dict[str, Any]) -> None:
        target = _step(definition, step_type)["Arguments"]
        for key in path[:-1]:
            target = target[key][0] if isinstance(target[key], list) else target[key]
        target[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            _set("RegisterModel", ("Tags",), [{"Key": "team", "Value": "ml"}]),
            r"RegisterModel arguments \['Tags'\] have no rows",
            id="tags-on-a-versioned-package",
        ),
        pytest.param(
            _set("RegisterModel", ("InferenceSpecification", "Containers", "ModelDataSource"), {"S3DataSource": {}}),
            r"container fields \['ModelDataSource'\] have no rows",
            id="container-field-without-rows",
        ),
        pytest.param(
            _set(
                "Condition",
                ("Conditions", "LeftValue"),
                {"Get": "Steps.ModelTraining.FinalMetricDataList['AUC'].Value"},
            ),
            r"step ModelTraining defines no metric 'AUC'",
            id="gate-on-an-undefined-metric",
        ),
        pytest.param(
            _set(
                "RegisterModel", ("ModelPackageDescription",), {"Get": "Steps.ModelTraining.OutputDataConfig.KmsKeyId"}
            ),
            r"property Steps.ModelTraining.OutputDataConfig.KmsKeyId is not modelled",
            id="unmodelled-training-property",
        ),
        pytest.param(
            _set("Fail", ("ErrorMessage",), {"Get": f"Steps.{REGISTER}.ModelPackageArn"}),
            rf"properties of RegisterModel step {REGISTER} are not modelled",
            id="property-of-a-non-training-step",
        ),
        pytest.param(
            _set("Condition", ("Conditions", "RightValue"), {"Std:JsonGet": {"Path": "x"}}),
            r"definition expression .*Std:JsonGet.* is not modelled",
            id="unmodelled-expression-in-the-gate",
        ),
    ],
)
def test_an_unmodelled_registration_or_gate_fails_the_matrix(
    stack_models: dict[str, StackIam], edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(UnmodelledError, match=message):
        execution_calls(Execution(_edited(stack_models["dev"], edit)))
