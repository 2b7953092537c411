"""``make follow``: step by step until the execution ends, with the training job's progress.

moto does not model ListPipelineExecutionSteps, and its executions are "Succeeded" at once, so the
polls are served by botocore's Stubber with responses shaped like the real ones (``tests/ops/shapes``,
checked against the service model): DescribePipelineExecution, ListPipelineExecutionSteps
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListPipelineExecutionSteps.html:
``Metadata.TrainingJob.Arn``, ``Metadata.Condition.Outcome``, ``Metadata.RegisterModel.Arn``,
``Metadata.Fail.ErrorMessage``, ``FailureReason``) and DescribeTrainingJob (``SecondaryStatus``,
``FinalMetricDataList``). The stack outputs, latest execution and training jobs come from moto.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from botocore.stub import Stubber

from ops.aws import OperatorError, StageAws
from ops.follow import follow_execution, latest_execution, training_detail
from tests.ops import shapes
from tests.ops.conftest import Deployed, Terminal, stubbed

GATE_PASSED = shapes.step("QualityGate", "Succeeded", {"Condition": {"Outcome": "True"}})
REGISTERED = shapes.step("RegisterModel-RegisterModel", "Succeeded", {"RegisterModel": {"Arn": shapes.PACKAGE_ARN}})
METRICS = {"Train Loss": 0.41, "Test AUC ROC": 0.912345}


def poll(
    stubber: Stubber,
    status: str,
    steps: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
    arn: str = shapes.EXECUTION_ARN,
    **kw: Any,
) -> None:
    """Queue one poll of execution ``arn``: the execution, its steps, then each training job described."""
    execution = {"PipelineExecutionArn": arn}
    stubber.add_response("describe_pipeline_execution", {**shapes.execution(status, **kw), **execution}, execution)
    stubber.add_response(
        "list_pipeline_execution_steps", {"PipelineExecutionSteps": steps}, {**execution, "SortOrder": "Ascending"}
    )
    for job in jobs:
        stubber.add_response("describe_training_job", job, {"TrainingJobName": shapes.JOB_ARN.split("/")[-1]})


def follow(deployed: Deployed, stubber_setup: Any, out: io.StringIO, **kw: Any) -> tuple[int, list[float]]:
    """Run ``follow_execution`` against queued polls; returns the exit status and the sleeps."""
    sagemaker, stubber = stubbed("sagemaker")
    stubber_setup(stubber)
    sleeps: list[float] = []
    clock = iter(range(0, 10_000, 15))
    aws = StageAws(deployed.stage, clients={"sagemaker": sagemaker})
    with stubber:
        status = follow_execution(
            aws, shapes.EXECUTION_ARN, out, interval=15, sleep=sleeps.append, clock=lambda: next(clock), **kw
        )
        stubber.assert_no_pending_responses()
    return status, sleeps


def successful_run(stubber: Stubber) -> None:
    poll(stubber, "Executing", [shapes.training_step("Executing")], [shapes.training_job("Downloading")])
    poll(stubber, "Executing", [shapes.training_step("Executing")], [shapes.training_job("Training", METRICS)])
    poll(stubber, "Executing", [shapes.training_step("Executing")], [shapes.training_job("Training", METRICS)])
    done = [shapes.training_step("Succeeded"), GATE_PASSED, REGISTERED]
    poll(stubber, "Succeeded", done, [shapes.training_job("Completed", METRICS)])


def test_success_in_a_log_prints_each_change_once_and_the_model_package(deployed: Deployed) -> None:
    out = io.StringIO()
    status, sleeps = follow(deployed, successful_run, out, live=False)
    assert (status, sleeps) == (0, [15, 15, 15])
    lines = out.getvalue().splitlines()
    training = [line for line in lines if "ModelTraining" in line]
    assert [line.split("] ", 1)[1].split()[1:3] for line in training] == [
        ["Executing", "Downloading"],
        ["Executing", "Training"],
        ["Succeeded", "Completed"],
    ]  # the third poll changed nothing, so it printed nothing
    assert "Training Train Loss=0.4100, Test AUC ROC=0.9123" in training[1]
    assert re.search(r"\] QualityGate +Succeeded +outcome True$", out.getvalue(), re.MULTILINE)
    assert f"registered model package {shapes.PACKAGE_ARN}" in out.getvalue()
    assert "`make approve STAGE=dev VERSION=3`" in out.getvalue()
    assert lines[-1] == f"execution {shapes.EXECUTION_ARN} succeeded"
    assert "\x1b[" not in out.getvalue()


def test_on_a_terminal_the_block_is_redrawn_in_place(deployed: Deployed) -> None:
    out = Terminal()
    assert follow(deployed, successful_run, out)[0] == 0
    text = out.getvalue()
    assert text.count("\x1b[2A\r\x1b[J") == 3  # header + one step line, redrawn on polls 2-4
    assert "(0m45s)" in text  # the last draw shows the elapsed time


def test_a_failed_quality_gate_exits_non_zero_with_its_reason(deployed: Deployed) -> None:
    reason = "Test AUC ROC 0.61 is below QualityThreshold 0.7"
    failed_gate = shapes.step("QualityGateFailed", "Failed", {"Fail": {"ErrorMessage": reason}})
    gate = shapes.step("QualityGate", "Succeeded", {"Condition": {"Outcome": "False"}})

    def run(stubber: Stubber) -> None:
        steps = [shapes.training_step("Succeeded"), gate, failed_gate]
        poll(stubber, "Failed", steps, [shapes.training_job("Completed", METRICS)], failure="Step failure")

    with pytest.raises(OperatorError) as raised:
        follow(deployed, run, io.StringIO(), live=False)
    assert str(raised.value) == f"execution a1b2c3d4e5f6 Failed: step QualityGateFailed: {reason}"


def test_a_failed_training_job_reports_the_step_reason(deployed: Deployed) -> None:
    reason = "AlgorithmError: channel val: label column 'label' missing in file /opt/ml/input/data/val/v.parquet"

    def run(stubber: Stubber) -> None:
        step = shapes.training_step("Failed", FailureReason=reason)
        poll(stubber, "Failed", [step], [shapes.training_job("Failed", FailureReason=reason)])

    with pytest.raises(OperatorError, match="step ModelTraining: AlgorithmError: channel val: label column"):
        follow(deployed, run, io.StringIO(), live=False)


def test_ctrl_c_stops_following_and_says_how_to_resume(deployed: Deployed) -> None:
    sagemaker, stubber = stubbed("sagemaker")
    poll(stubber, "Executing", [shapes.training_step("Executing")], [shapes.training_job("Training")])
    out = io.StringIO()

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with stubber:
        aws = StageAws(deployed.stage, clients={"sagemaker": sagemaker})
        assert follow_execution(aws, shapes.EXECUTION_ARN, out, sleep=interrupt, live=False) == 130
    assert f"the execution goes on: `make follow STAGE=dev EXECUTION={shapes.EXECUTION_ARN}`" in out.getvalue()


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (shapes.EXECUTION_ARN.replace("us-east-1", "eu-west-1"), "EXECUTION is in region eu-west-1, but stage dev"),
        (shapes.EXECUTION_ARN.replace(shapes.PIPELINE, "other"), "belongs to pipeline other, not to this stage's"),
        ("a1b2c3d4e5f6", "is not a pipeline execution ARN"),
    ],
)
def test_an_execution_of_another_stage_is_refused_before_any_call(deployed: Deployed, arn: str, expected: str) -> None:
    sagemaker, stubber = stubbed("sagemaker")  # nothing queued: any SageMaker call would fail the test
    with stubber, pytest.raises(OperatorError, match=expected):
        follow_execution(StageAws(deployed.stage, clients={"sagemaker": sagemaker}), arn, io.StringIO())


def test_the_latest_execution_is_followed_by_default(deployed: Deployed) -> None:
    with pytest.raises(OperatorError, match="has no executions yet: run `make start-pipeline STAGE=dev`"):
        latest_execution(deployed.aws)
    arn = deployed.sagemaker.start_pipeline_execution(PipelineName=shapes.PIPELINE)["PipelineExecutionArn"]
    assert latest_execution(deployed.aws) == arn


def test_training_detail_of_a_moto_training_job(deployed: Deployed) -> None:
    job = deployed.sagemaker.create_training_job(
        TrainingJobName=shapes.JOB_NAME,
        AlgorithmSpecification={"TrainingImage": "pytorch-training", "TrainingInputMode": "File"},
        RoleArn=f"arn:aws:iam::{shapes.ACCOUNT}:role/TrainingRole",
        OutputDataConfig={"S3OutputPath": "s3://artifacts/training-output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    detail, failure = training_detail(deployed.sagemaker, job["TrainingJobArn"])
    assert detail == "Completed train:progress=100.0000"  # moto's job: Completed, one metric
    assert failure is None
