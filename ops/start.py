"""``make start-pipeline``: check the parameters and the data, then start one execution.

Everything that can be known before a run is checked first, against what is deployed: parameter
names and types from the pipeline's definition, then each declared channel's data under the URIs
this run will use. Only then is StartPipelineExecution called, so a mistake starts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from ops import definition as deployed
from ops.aws import StageAws
from ops.params import check_assignments, effective_values, parse_assignments
from ops.preflight import check_channels
from ops.stages import input_root

Follow = Callable[[StageAws, str, TextIO], int]


def prepare_run(aws: StageAws, params_text: str) -> tuple[str, dict[str, str], list[str]]:
    """The pipeline name, the checked parameter values to pass, and the preflight's report lines.

    Raises:
        OperatorError: for a bad parameter, an unresolvable channel URI or a channel without data.
    """
    assignments = parse_assignments(params_text)
    definition = aws.pipeline_definition()
    declared = deployed.parameters(definition)
    root = input_root(aws.stage, aws.output("DataBucketName"))
    given = check_assignments(assignments, declared, root)
    channels = deployed.channels(definition, effective_values(declared, given))
    report = check_channels(aws, channels)
    return aws.pipeline_name(), given, report


def start_pipeline(aws: StageAws, params_text: str, out: TextIO, follow: Follow | None = None) -> int:
    """Start one execution after the checks, print its ARN, and follow it when ``follow`` is given."""
    pipeline, given, report = prepare_run(aws, params_text)
    for line in report:
        print(line, file=out)
    request: dict[str, Any] = {"PipelineName": pipeline}
    if given:
        request["PipelineParameters"] = [{"Name": name, "Value": value} for name, value in given.items()]
    arn = aws.client("sagemaker").start_pipeline_execution(**request)["PipelineExecutionArn"]
    shown = " ".join(f"{name}={value}" for name, value in given.items()) or "the deployed defaults"
    print(f"started {arn} with {shown}", file=out)
    if follow is None:
        print(f"follow it with: make follow STAGE={aws.stage.name} EXECUTION={arn}", file=out)
        return 0
    return follow(aws, arn, out)
