"""The calls one pipeline execution makes, derived from the rendered definition, step type by step type.

``STEP_ROWS`` maps each step ``Type`` to the function that lists its calls: a new step type adds
its rows here, in one place. A step whose type has no entry, or a definition feature no row
models, raises ``UnmodelledError`` and fails the matrix instead of passing unchecked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.security.execution_model import SAGEMAKER_SERVICE, Call, Execution, UnmodelledError, all_steps
from tests.security.iam_evaluator import Decision
from tests.security.registry_calls import register_model_rows
from tests.security.training_calls import API_PERMISSIONS, TRUST, training_rows

BRANCHES = ("IfSteps", "ElseSteps")


def condition_rows(step: dict[str, Any], ex: Execution) -> list[Call]:
    """A Condition step is evaluated by Pipelines itself, from values it already holds: no call.

    Its operands are still evaluated, so a property or parameter the matrix does not model fails
    here (the metrics come from the training step's DescribeTrainingJob, already a row). Its
    branches are steps of their own (``all_steps``).
    """
    ex.resolve({key: value for key, value in step["Arguments"].items() if key not in BRANCHES})
    return []


def fail_rows(step: dict[str, Any], ex: Execution) -> list[Call]:
    """A Fail step ends the execution with its evaluated message: no call (SageMaker guide, "Pipelines steps")."""
    ex.resolve(step["Arguments"])
    return []


STEP_ROWS: dict[str, Callable[[dict[str, Any], Execution], list[Call]]] = {
    "Training": training_rows,
    "Condition": condition_rows,
    "Fail": fail_rows,
    "RegisterModel": register_model_rows,
}
"""Step ``Type`` -> the calls one run of such a step makes. Add a new step type's rows here."""


def _execution_rows(ex: Execution) -> list[Call]:
    """SageMaker assumes the pipeline role for the execution.

    The confused-deputy guide's Pipelines example conditions on ``pipeline/<name>/*`` but does not
    say which ARN SageMaker sends, so each spelling of the name is tried with the execution ARN and
    with the bare pipeline ARN: the trust must allow every one, or a run could be locked out.
    """
    if ex.definition.get("PipelineExperimentConfig"):
        raise UnmodelledError("PipelineExperimentConfig makes Pipelines create experiments and trials; add their rows")
    names = dict.fromkeys((ex.stack.pipeline_name, ex.stack.pipeline_name.lower()))
    return [
        Call(
            f"execution: SageMaker assumes the pipeline role ({kind}, {spelling})",
            SAGEMAKER_SERVICE,
            "sts:AssumeRole",
            ex.stack.pipeline_role_arn,
            {"aws:SourceArn": source_arn, "aws:SourceAccount": ex.stack.env.account},
            TRUST,
        )
        for spelling in names
        for kind, source_arn in (("execution", ex.execution_arn(spelling)), ("pipeline", ex.pipeline_arn(spelling)))
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


def denials(ex: Execution) -> list[tuple[Call, Decision]]:
    """Every call of one execution that IAM would not allow, with IAM's decision."""
    decided = [(call, ex.stack.authorize(call.request())) for call in execution_calls(ex)]
    return [(call, decision) for call, decision in decided if decision is not Decision.ALLOW]


def describe(denied: list[tuple[Call, Decision]]) -> str:
    """One line per denied call: the decision, the row, and the AWS guide that says the call happens."""
    return "\n".join(f"{decision.value}: {call}" for call, decision in denied)
