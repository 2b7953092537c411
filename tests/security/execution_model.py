"""One pipeline execution as IAM sees it: the names SageMaker gives things, and the calls made.

Names follow what SageMaker Pipelines really produces. The SageMaker guide's "Run a pipeline"
(https://docs.aws.amazon.com/sagemaker/latest/dg/run-pipeline.html) lists an execution's steps with
ARNs such as ``training-job/pipelines-cfvy1tjuxdq8-abalonetrain-tavd6f3wdf`` (step AbaloneTrain)
and ``model-package/abalonemodelpackagegroupname/1``: jobs are named
``pipelines-<execution id>-<step name>-<suffix>``, and ARNs are lowercase. The job name itself keeps
the step name's case; it is what S3 output paths and log stream names use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.security.iam_evaluator import ContextValue, Request
from tests.security.stack_iam import StackIam

EXECUTION_ID = "cfvy1tjuxdq8"
JOB_SUFFIX = "TavD6f3WDf"
SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
TLS_CONTEXT: dict[str, ContextValue] = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}
"""SageMaker reaches S3 over HTTPS with TLS 1.2 or later."""
STEP_PROPERTY = re.compile(r"^Steps\.(?P<step>[^.]+)\.(?P<property>.+)$")


class UnmodelledError(LookupError):
    """The definition holds something the permission matrix has no rows for: add them, do not skip it."""


@dataclass(frozen=True)
class Call:
    """One authorization an execution needs, with the AWS guide page that says the call happens."""

    row: str
    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    source: str = ""

    def request(self) -> Request:
        return Request(self.principal, self.action, self.resource, self.context)

    def __str__(self) -> str:
        return f"{self.row}: {self.action} on {self.resource} by {self.principal} ({self.source})"


@dataclass(frozen=True)
class Execution:
    """An execution of the stack's pipeline with parameter defaults, a fixed id and the stack's ARNs."""

    stack: StackIam
    execution_id: str = EXECUTION_ID

    @property
    def definition(self) -> dict[str, Any]:
        return self.stack.definition

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter name -> default value (what a run without overrides uses)."""
        return {p["Name"]: p.get("DefaultValue") for p in self.definition.get("Parameters", [])}

    def job_name(self, step_name: str) -> str:
        return f"pipelines-{self.execution_id}-{step_name}-{JOB_SUFFIX}"

    def arn(self, service: str, resource: str) -> str:
        env = self.stack.env
        return f"arn:{env.partition}:{service}:{env.region}:{env.account}:{resource}"

    def execution_arn(self, pipeline_name: str) -> str:
        return self.arn("sagemaker", f"pipeline/{pipeline_name}/execution/{self.execution_id}")

    def value(self, expression: Any) -> Any:
        """A definition value with ``Get`` and ``Std:Join`` expressions evaluated for this execution."""
        if not isinstance(expression, dict):
            return expression
        if "Std:Join" in expression:
            join = expression["Std:Join"]
            return join["On"].join(str(self.value(item)) for item in join["Values"])
        if set(expression) == {"Get"}:
            return self._get(expression["Get"])
        raise UnmodelledError(f"definition expression {expression} is not modelled by the permission matrix")

    def _get(self, path: str) -> Any:
        execution = {
            "Execution.PipelineExecutionId": self.execution_id,
            "Execution.PipelineExecutionArn": self.execution_arn(self.stack.pipeline_name.lower()),
            "Execution.PipelineName": self.stack.pipeline_name,
        }
        if path in execution:
            return execution[path]
        if path.startswith("Parameters."):
            name = path.removeprefix("Parameters.")
            if self.parameters.get(name) is None:
                raise UnmodelledError(f"parameter {name} has no default value to evaluate the matrix with")
            return self.parameters[name]
        match = STEP_PROPERTY.match(path)
        if match and match["property"] == "ModelArtifacts.S3ModelArtifacts":
            step = self.step(match["step"])
            output = str(self.value(step["Arguments"]["OutputDataConfig"]["S3OutputPath"])).rstrip("/")
            return f"{output}/{self.job_name(step['Name'])}/output/model.tar.gz"
        if match and match["property"].startswith("FinalMetricDataList["):
            return 0.5  # a metric value: only compared, never used to name a resource
        raise UnmodelledError(f"definition property {path} is not modelled by the permission matrix")

    def step(self, name: str) -> dict[str, Any]:
        """The step called ``name``, wherever it is nested."""
        for step in all_steps(self.definition):
            if step["Name"] == name:
                return step
        raise UnmodelledError(f"no step named {name}")

    def s3_arn(self, bucket: str, key: str | None = None) -> str:
        partition = self.stack.env.partition
        return f"arn:{partition}:s3:::{bucket}" if key is None else f"arn:{partition}:s3:::{bucket}/{key}"


def all_steps(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every step of a definition, the branches of ``Condition`` steps included, in order."""

    def walk(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        for step in steps:
            found.append(step)
            if step.get("Type") == "Condition":
                found += walk(step["Arguments"].get("IfSteps", [])) + walk(step["Arguments"].get("ElseSteps", []))
        return found

    return walk(definition["Steps"])


def s3_location(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    if not uri.startswith("s3://"):
        raise UnmodelledError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
