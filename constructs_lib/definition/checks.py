"""Security checks of a rendered pipeline definition.

cdk-nag, cfn-lint and checkov do not look inside ``PipelineDefinitionBody``, so synth
runs these on every rendered definition and fails with a message naming the step.
"""

from __future__ import annotations

import json
from typing import Any

from constructs_lib.config.errors import ConfigError


class DefinitionCheckError(ConfigError):
    """A training step in the rendered definition breaks a security rule.

    A ``ConfigError``: the definition follows from the stage's settings, so ``app.py``
    reports it as one message (exit 1) instead of a traceback.
    """


def all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every step, including those nested in a Condition step's ``IfSteps`` and ``ElseSteps``."""
    found: list[dict[str, Any]] = []
    for step in steps:
        found.append(step)
        arguments = step.get("Arguments", {}) if step.get("Type") == "Condition" else {}
        found += all_steps(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))
    return found


def _training_steps(definition: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in all_steps(definition.get("Steps", [])) if step.get("Type") == "Training"]


def find_definition_violations(definition_json: str, expected_role_arn: str) -> list[str]:
    """Every violation in the definition, one message per problem.

    Args:
        definition_json: the rendered definition (with placeholders, before CDK tokens).
        expected_role_arn: the only role a training step may run under.
    """
    problems: list[str] = []
    for step in _training_steps(json.loads(definition_json)):
        name, arguments = step.get("Name", "?"), step.get("Arguments", {})
        if not arguments.get("OutputDataConfig", {}).get("KmsKeyId"):
            problems.append(f"step {name}: OutputDataConfig has no KmsKeyId; training output must be KMS-encrypted")
        if arguments.get("EnableManagedSpotTraining"):
            if not arguments.get("CheckpointConfig", {}).get("S3Uri"):
                problems.append(f"step {name}: managed spot training without CheckpointConfig would lose progress")
            stopping = arguments.get("StoppingCondition", {})
            max_wait, max_run = stopping.get("MaxWaitTimeInSeconds"), stopping.get("MaxRuntimeInSeconds")
            if max_wait is None or max_run is None or max_wait <= max_run:
                problems.append(
                    f"step {name}: spot needs MaxWaitTimeInSeconds ({max_wait}) > MaxRuntimeInSeconds ({max_run})"
                )
        instances = arguments.get("ResourceConfig", {}).get("InstanceCount", 1)
        if isinstance(instances, int) and instances > 1 and not arguments.get("EnableInterContainerTrafficEncryption"):
            problems.append(
                f"step {name}: {instances} instances without EnableInterContainerTrafficEncryption would exchange "
                "training data between instances unencrypted"
            )
        role = arguments.get("RoleArn")
        if role != expected_role_arn:
            problems.append(f"step {name}: runs under role {role!r}, not the stack's training role")
    return problems


def check_definition(definition_json: str, expected_role_arn: str) -> None:
    """Raise when the definition has any violation.

    Raises:
        DefinitionCheckError: listing every violation found.
    """
    problems = find_definition_violations(definition_json, expected_role_arn)
    if problems:
        raise DefinitionCheckError("pipeline definition failed security checks:\n  " + "\n  ".join(problems))
