"""``make follow``: watch one pipeline execution until it ends, step by step.

Each poll reads DescribePipelineExecution, ListPipelineExecutionSteps and, for a training step,
DescribeTrainingJob (its ``SecondaryStatus`` and the latest ``FinalMetricDataList`` values). On a
terminal the block is redrawn in place; in a log (CI, a pipe) only lines that changed are printed.
The exit status is the execution's: 0 when it succeeded, else 1 with the failing step's reason. The
clock and sleep are parameters so tests run without waiting.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from ops.aws import OperatorError, StageAws, one_line
from ops.poll_errors import expired_reason, transient_reason
from ops.stages import make_hint

POLL_SECONDS = 15.0
MAX_BACKOFF_SECONDS = 300.0
"""After a failed poll the wait doubles from twice the interval up to this, and following goes on."""
TERMINAL_EXECUTION = frozenset({"Succeeded", "Failed", "Stopped", "CompletedWithFailures"})
TERMINAL_STEP = frozenset({"Succeeded", "Failed", "Stopped"})
EXECUTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):pipeline/(?P<pipeline>[^/]+)"
    r"/execution/(?P<id>[^/]+)$"
)
"""PipelineExecutionArn pattern ("ListPipelineExecutionSteps", SageMaker API Reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListPipelineExecutionSteps.html)."""


@dataclass(frozen=True)
class StepState:
    """One step of an execution as shown: status, a short detail, and why it failed."""

    name: str
    status: str
    detail: str = ""
    failure: str | None = None
    model_package_arn: str | None = None


@dataclass(frozen=True)
class ExecutionState:
    """An execution at one poll."""

    arn: str
    status: str
    failure: str | None
    steps: tuple[StepState, ...]

    @property
    def model_package_arn(self) -> str | None:
        """The model package a RegisterModel step registered, if any."""
        return next((s.model_package_arn for s in self.steps if s.model_package_arn), None)


def training_detail(sagemaker: Any, job_arn: str) -> tuple[str, str | None]:
    """``SecondaryStatus`` and latest metric values of a training job, and its failure reason.

    The job name is the ARN's last part, as the SageMaker SDK itself reads a pipeline step's
    ``Metadata.TrainingJob.Arn`` (``sagemaker/workflow/pipeline.py``, ``get_function_step_result``).
    """
    job = sagemaker.describe_training_job(TrainingJobName=job_arn.rsplit("/", maxsplit=1)[-1])
    metrics = ", ".join(f"{m['MetricName']}={m['Value']:.4f}" for m in job.get("FinalMetricDataList", []))
    detail = " ".join(part for part in (job.get("SecondaryStatus", ""), metrics) if part)
    return detail, job.get("FailureReason")


def step_state(sagemaker: Any, step: dict[str, Any]) -> StepState:
    """What a ListPipelineExecutionSteps entry shows, with the training job's progress."""
    metadata = step.get("Metadata", {})
    detail, failure = "", step.get("FailureReason")
    if "TrainingJob" in metadata:
        detail, job_failure = training_detail(sagemaker, metadata["TrainingJob"]["Arn"])
        failure = failure or job_failure
    elif "Condition" in metadata:
        detail = f"outcome {metadata['Condition'].get('Outcome', '?')}"
    elif "Fail" in metadata:
        detail = failure = failure or metadata["Fail"].get("ErrorMessage")
    registered = metadata.get("RegisterModel", {}).get("Arn")
    if registered:
        detail = f"model package {registered}"
    if step.get("AttemptCount", 1) > 1:
        detail = f"attempt {step['AttemptCount']} {detail}".strip()
    return StepState(step["StepName"], step["StepStatus"], detail, failure and one_line(failure), registered)


def read_execution(sagemaker: Any, arn: str, finished: dict[str, StepState]) -> ExecutionState:
    """One poll. Steps that ended are kept in ``finished`` and not described again."""
    execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
    pages = sagemaker.get_paginator("list_pipeline_execution_steps").paginate(
        PipelineExecutionArn=arn, SortOrder="Ascending"
    )
    steps = []
    for page in pages:
        for step in page["PipelineExecutionSteps"]:
            known = finished.get(step["StepName"])
            state = known if known and known.status == step["StepStatus"] else step_state(sagemaker, step)
            if state.status in TERMINAL_STEP:
                finished[state.name] = state
            steps.append(state)
    failure = execution.get("FailureReason") or None
    return ExecutionState(arn, execution["PipelineExecutionStatus"], failure, tuple(steps))


def render(state: ExecutionState) -> list[tuple[str, str]]:
    """``(key, line)`` rows: the execution, then one per step."""
    rows = [("", f"execution {state.arn.rsplit('/', 1)[-1]}: {state.status}")]
    rows += [(s.name, f"  {s.name:<28} {s.status:<10} {s.detail}".rstrip()) for s in state.steps]
    return rows


class Display:
    """Redraws the rows in place on a terminal; prints only changed rows otherwise."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self.out, self.live = out, live
        self._drawn = 0
        self._last: dict[str, str] = {}

    def show(self, rows: list[tuple[str, str]], elapsed: str) -> None:
        """Show one poll's rows."""
        if self.live:
            width = shutil.get_terminal_size().columns
            lines = [line[: width - 1] for line in [rows[0][1] + f" ({elapsed})", *(line for _, line in rows[1:])]]
            if self._drawn:
                self.out.write(f"\x1b[{self._drawn}A\r\x1b[J")
            self.out.write("\n".join(lines) + "\n")
            self._drawn = len(lines)
        else:
            for key, line in rows:
                if self._last.get(key) != line:
                    self.out.write(f"[{elapsed}] {line.strip()}\n")
                    self._last[key] = line
        self.out.flush()

    def note(self, line: str, elapsed: str) -> None:
        """A passing message: below the block on a terminal (the next draw clears it), a line in a log."""
        self.out.write(f"{line} ({elapsed})\n" if self.live else f"[{elapsed}] {line}\n")
        if self.live and self._drawn:
            self._drawn += 1
        self.out.flush()


def elapsed_text(seconds: float) -> str:
    """``754.2`` -> ``12m34s``."""
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s"


def check_execution_arn(aws: StageAws, arn: str) -> None:
    """The ARN must name an execution of this stage's pipeline, in the stage's region."""
    match = EXECUTION_ARN.match(arn)
    if match is None:
        raise OperatorError(f"EXECUTION={arn!r} is not a pipeline execution ARN (arn:aws:sagemaker:...:pipeline/...)")
    if match["region"] != aws.stage.region:
        raise OperatorError(
            f"EXECUTION is in region {match['region']}, but stage {aws.stage.name} runs in {aws.stage.region} "
            "(cdk.json): pass the STAGE of that execution"
        )
    pipeline = aws.pipeline_name()
    if match["pipeline"].lower() != pipeline.lower():
        raise OperatorError(f"EXECUTION belongs to pipeline {match['pipeline']}, not to this stage's {pipeline}")


def latest_execution(aws: StageAws) -> str:
    """The ARN of the stage pipeline's most recent execution."""
    pipeline = aws.pipeline_name()
    summaries = aws.client("sagemaker").list_pipeline_executions(
        PipelineName=pipeline, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )["PipelineExecutionSummaries"]
    if not summaries:
        raise OperatorError(f"pipeline {pipeline} has no executions yet: run {make_hint('start-pipeline', aws.stage)}")
    return str(summaries[0]["PipelineExecutionArn"])


def report_outcome(aws: StageAws, state: ExecutionState, out: TextIO) -> int:
    """Print the registered model package; 0 on success, else an error with the failing step's reason."""
    registered = state.model_package_arn
    if registered:
        version = registered.rsplit("/", 1)[-1]
        approve = make_hint("approve", aws.stage, f"VERSION={version}")
        review = make_hint("models", aws.stage)
        print(f"registered model package {registered}; review it with {review}, approve it with {approve}", file=out)
    if state.status == "Succeeded":
        print(f"execution {state.arn} succeeded", file=out)
        return 0
    failed = [f"step {s.name}: {s.failure or s.status}" for s in state.steps if s.status in ("Failed", "Stopped")]
    reason = "; ".join(failed) or state.failure or "no reason given"
    raise OperatorError(f"execution {state.arn.rsplit('/', 1)[-1]} {state.status}: {reason}")


def poll_once(aws: StageAws, arn: str, finished: dict[str, StepState]) -> ExecutionState | str:
    """One poll, or why it failed and is worth repeating.

    Raises:
        OperatorError: when the credentials expired: how to refresh them and resume.
    """
    try:
        return read_execution(aws.client("sagemaker"), arn, finished)
    except (BotoCoreError, ClientError) as error:
        expired = expired_reason(error)
        if expired is not None:
            resume = make_hint("follow", aws.stage, f"EXECUTION={arn}")
            raise OperatorError(
                f"the AWS credentials expired while following ({expired}); the execution goes on: refresh them "
                f"(`aws sso login --profile <profile>`, or a new session token) and resume with {resume}"
            ) from None
        reason = transient_reason(error)
        if reason is None:
            raise
        return reason


def follow_execution(
    aws: StageAws,
    arn: str,
    out: TextIO,
    *,
    interval: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    live: bool | None = None,
) -> int:
    """Poll until the execution ends; ``live`` defaults to whether ``out`` is a terminal.

    Throttling and transient network or service errors do not end it: it says so and polls again
    after a doubling pause. Expired credentials end it with how to refresh them and resume.
    """
    check_execution_arn(aws, arn)
    display = Display(out, out.isatty() if live is None else live)
    started, failures = clock(), 0
    finished: dict[str, StepState] = {}
    try:
        while True:
            state = poll_once(aws, arn, finished)
            if isinstance(state, str):
                failures += 1
                pause = min(interval * 2**failures, MAX_BACKOFF_SECONDS)
                display.note(f"poll failed ({state}); polling again in {pause:.0f}s", elapsed_text(clock() - started))
                sleep(pause)
                continue
            failures = 0
            display.show(render(state), elapsed_text(clock() - started))
            if state.status in TERMINAL_EXECUTION:
                return report_outcome(aws, state, out)
            sleep(interval)
    except KeyboardInterrupt:
        resume = make_hint("follow", aws.stage, f"EXECUTION={arn}")
        print(f"\nstopped following; the execution goes on: {resume}", file=out)
        return 130
