"""One pipeline execution as IAM sees it: the names SageMaker gives things, and the calls made.

Names follow what SageMaker Pipelines really produces. The SageMaker guide's "Run a pipeline"
(https://docs.aws.amazon.com/sagemaker/latest/dg/run-pipeline.html) lists an execution's steps with
ARNs such as ``training-job/pipelines-cfvy1tjuxdq8-abalonetrain-tavd6f3wdf`` (step AbaloneTrain)
and ``model-package/abalonemodelpackagegroupname/1``: jobs are named
``pipelines-<execution id>-<step name>-<suffix>``, and ARNs are lowercase. Whether the job *name*
keeps the step name's case is not documented; it is what S3 output paths and log stream names use,
so the matrix runs with both spellings (``lowercase_job_names``). Likewise for the names of the
pipeline, the model package group and the job inside ARNs: IAM compares ARNs case-sensitively, the
examples show them lowercase, and SageMaker does not document it for every resource type, so the
matrix runs with them as written too (``names_in_arns_as_written``).

Step properties (``{"Get": "Steps.<step>.<property>"}``) are what Pipelines passes at run time: the
DescribeTrainingJob response of the step's job (SageMaker API Reference, DescribeTrainingJob:
``TrainingJobName``, ``ModelArtifacts.S3ModelArtifacts``, ``FinalMetricDataList``,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html), with the
model at ``<S3OutputPath>/<job>/output/model.tar.gz`` (SageMaker guide, "How SageMaker AI stores
training output", https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs_lib.definition import checks
from tests.security.iam_evaluator import ContextValue, Request
from tests.security.stack_iam import StackIam

EXECUTION_ID = "cfvy1tjuxdq8"
JOB_SUFFIX = "TavD6f3WDf"
METRIC_VALUE = 0.9
"""A final metric value: only compared and recorded, never used to name a resource."""
SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
TLS_CONTEXT: dict[str, ContextValue] = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}
"""SageMaker reaches S3 over HTTPS with TLS 1.2 or later."""
STEP_PROPERTY = re.compile(r"^Steps\.(?P<step>[^.]+)\.(?P<property>.+)$")
FINAL_METRIC = re.compile(r"^FinalMetricDataList\['(?P<name>[^']+)'\]\.Value$")


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


def is_expression(value: Mapping[str, Any]) -> bool:
    """Whether a definition object is a pipeline expression (``Get``, ``Std:Join`` ...) rather than a structure."""
    return set(value) == {"Get"} or any(key.startswith("Std:") for key in value)


@dataclass(frozen=True)
class Execution:
    """An execution of the stack's pipeline with a fixed id, the stack's ARNs and its parameter values.

    Attributes:
        overrides: parameter values the execution is started with (StartPipelineExecution's
            ``PipelineParameters``); the others take their defaults.
        lowercase_job_names: name jobs ``pipelines-<id>-<step, lowercase>-<suffix, lowercase>``.
        names_in_arns_as_written: keep the case of names inside ARNs (default: lowercase them).
    """

    stack: StackIam
    execution_id: str = EXECUTION_ID
    overrides: Mapping[str, Any] = field(default_factory=dict)
    lowercase_job_names: bool = False
    names_in_arns_as_written: bool = False

    @property
    def definition(self) -> dict[str, Any]:
        return self.stack.definition

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter name -> the value this execution uses (override, else default)."""
        defaults = {p["Name"]: p.get("DefaultValue") for p in self.definition.get("Parameters", [])}
        unknown = sorted(set(self.overrides) - set(defaults))
        if unknown:
            raise UnmodelledError(f"parameters {unknown} are not in the definition; an execution cannot pass them")
        return {**defaults, **self.overrides}

    def job_name(self, step_name: str) -> str:
        name = f"pipelines-{self.execution_id}-{step_name}-{JOB_SUFFIX}"
        return name.lower() if self.lowercase_job_names else name

    def arn_name(self, name: str) -> str:
        """A resource's name as it appears inside the ARNs of this execution."""
        return name if self.names_in_arns_as_written else name.lower()

    def arn(self, service: str, resource: str) -> str:
        env = self.stack.env
        return f"arn:{env.partition}:{service}:{env.region}:{env.account}:{resource}"

    def pipeline_arn(self, pipeline_name: str) -> str:
        return self.arn("sagemaker", f"pipeline/{pipeline_name}")

    def execution_arn(self, pipeline_name: str) -> str:
        return f"{self.pipeline_arn(pipeline_name)}/execution/{self.execution_id}"

    def resolve(self, value: Any) -> Any:
        """A definition value with every expression in it evaluated, structures and lists walked."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, dict):
            return self.value(value) if is_expression(value) else {k: self.resolve(v) for k, v in value.items()}
        return value

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
            "Execution.PipelineExecutionArn": self.execution_arn(self.arn_name(self.stack.pipeline_name)),
            "Execution.PipelineName": self.stack.pipeline_name,
        }
        if path in execution:
            return execution[path]
        if path.startswith("Parameters."):
            name = path.removeprefix("Parameters.")
            if self.parameters.get(name) is None:
                raise UnmodelledError(f"parameter {name} has no value to evaluate the matrix with")
            return self.parameters[name]
        match = STEP_PROPERTY.match(path)
        if match is None:
            raise UnmodelledError(f"definition property {path} is not modelled by the permission matrix")
        return self._training_property(match["step"], match["property"])

    def _training_property(self, step_name: str, name: str) -> Any:
        """A property of a Training step's job, as DescribeTrainingJob returns it for this execution."""
        step = self.step(step_name)
        if step["Type"] != "Training":
            raise UnmodelledError(f"properties of {step['Type']} step {step_name} are not modelled ({name})")
        arguments, job = step["Arguments"], self.job_name(step_name)
        if name == "TrainingJobName":
            return job
        if name == "ModelArtifacts.S3ModelArtifacts":
            output = str(self.value(arguments["OutputDataConfig"]["S3OutputPath"])).rstrip("/")
            return f"{output}/{job}/output/model.tar.gz"
        metric = FINAL_METRIC.match(name)
        if metric:
            defined = {d["Name"] for d in arguments["AlgorithmSpecification"].get("MetricDefinitions", [])}
            if metric["name"] not in defined:
                raise UnmodelledError(
                    f"step {step_name} defines no metric {metric['name']!r}; defined: {sorted(defined)}"
                )
            return METRIC_VALUE
        raise UnmodelledError(f"definition property Steps.{step_name}.{name} is not modelled by the permission matrix")

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
    return checks.all_steps(definition["Steps"])


def s3_location(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    if not uri.startswith("s3://"):
        raise UnmodelledError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
