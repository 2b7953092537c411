"""The calls one pipeline execution makes, derived from the rendered definition, step type by step type.

``STEP_ROWS`` maps each step ``Type`` to the function that lists its calls: a new step type adds
its rows here, in one place. A step whose type has no entry, or a definition feature no row
models, raises ``UnmodelledError`` and fails the matrix instead of passing unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.security.execution_model import SAGEMAKER_SERVICE, Call, Execution, UnmodelledError, all_steps
from tests.security.training_calls import API_PERMISSIONS, TRUST, training_rows

REGISTRY_GUIDE = (
    "SageMaker guide, Register a model version, https://docs.aws.amazon.com/sagemaker/latest/dg/"
    "model-registry-version.html; Service Authorization Reference, Amazon SageMaker (CreateModelPackage: "
    "model-package, model-package-group, sagemaker:ModelApprovalStatus), "
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html"
)
REGISTER_ARGUMENTS = {
    "ModelPackageGroupName",
    "ModelApprovalStatus",
    "InferenceSpecification",
    "CustomerMetadataProperties",
    "ModelPackageDescription",
    "MetadataProperties",
    "SkipModelValidation",
    "Domain",
    "Task",
    "Tags",
}
"""CreateModelPackage arguments whose only effect is what the package records (no call of their own)."""
FIRST_VERSION = 1


def no_aws_calls(step: dict[str, Any], ex: Execution) -> list[Call]:
    """Condition and Fail steps are evaluated by Pipelines itself, from properties it already holds.

    A Condition step compares step properties and parameters (the metric comes from the training
    step's DescribeTrainingJob, already a row); a Fail step ends the execution with its message
    (SageMaker guide, "Pipelines steps", build-and-manage-steps.html).
    """
    return []


def register_model_rows(step: dict[str, Any], ex: Execution) -> list[Call]:
    """CreateModelPackage, authorized on the group and on the new version, with the approval status.

    The Service Authorization Reference lists model-package and model-package-group for
    CreateModelPackage, with ``sagemaker:ModelApprovalStatus`` and
    ``sagemaker:CustomerMetadataProperties/${MetadataKey}``; "Run a pipeline" shows the version ARN
    ``model-package/<group, lowercase>/<version>``.
    """
    arguments = step["Arguments"]
    unknown = sorted(set(arguments) - REGISTER_ARGUMENTS)
    if unknown:
        raise UnmodelledError(f"step {step['Name']}: RegisterModel arguments {unknown} have no rows in {__name__}")
    group = str(ex.value(arguments["ModelPackageGroupName"])).rsplit("model-package-group/", 1)[-1].lower()
    context = {
        "sagemaker:ModelApprovalStatus": str(ex.value(arguments.get("ModelApprovalStatus", "PendingManualApproval"))),
        **{
            f"sagemaker:CustomerMetadataProperties/{key}": str(ex.value(value))
            for key, value in arguments.get("CustomerMetadataProperties", {}).items()
        },
    }
    caller, version = ex.stack.pipeline_role_arn, ex.arn("sagemaker", f"model-package/{group}/{FIRST_VERSION}")
    calls = [
        Call(
            f"{step['Name']}: register in the group",
            caller,
            "sagemaker:CreateModelPackage",
            ex.arn("sagemaker", f"model-package-group/{group}"),
            context,
            REGISTRY_GUIDE,
        ),
        Call(
            f"{step['Name']}: create the version",
            caller,
            "sagemaker:CreateModelPackage",
            version,
            context,
            REGISTRY_GUIDE,
        ),
    ]
    if arguments.get("Tags"):
        calls.append(Call(f"{step['Name']}: tag the version", caller, "sagemaker:AddTags", version, {}, REGISTRY_GUIDE))
    return calls


STEP_ROWS: dict[str, Callable[[dict[str, Any], Execution], list[Call]]] = {
    "Training": training_rows,
    "Condition": no_aws_calls,
    "Fail": no_aws_calls,
    "RegisterModel": register_model_rows,
}
"""Step ``Type`` -> the calls one run of such a step makes. Add a new step type's rows here."""


def _execution_rows(ex: Execution) -> list[Call]:
    """SageMaker assumes the pipeline role for the execution; the execution ARN is tried as written and lowercase."""
    definition = ex.definition
    if definition.get("PipelineExperimentConfig"):
        raise UnmodelledError("PipelineExperimentConfig makes Pipelines create experiments and trials; add their rows")
    names = dict.fromkeys((ex.stack.pipeline_name, ex.stack.pipeline_name.lower()))
    return [
        Call(
            f"execution: SageMaker assumes the pipeline role ({spelling})",
            SAGEMAKER_SERVICE,
            "sts:AssumeRole",
            ex.stack.pipeline_role_arn,
            {"aws:SourceArn": ex.execution_arn(spelling), "aws:SourceAccount": ex.stack.env.account},
            TRUST,
        )
        for spelling in names
    ]


def execution_calls(ex: Execution) -> list[Call]:
    """Every call of one execution: the pipeline role's assumption, then each step's rows."""
    calls = _execution_rows(ex)
    for step in all_steps(ex.definition):
        rows = STEP_ROWS.get(step["Type"])
        if rows is None:
            raise UnmodelledError(
                f"step {step['Name']} has Type {step['Type']!r}, which has no rows in STEP_ROWS "
                f"({__name__}); add the calls that step type makes ({API_PERMISSIONS})"
            )
        calls += rows(step, ex)
    return calls
