"""A stage whose ``pipeline_name`` is set: start and follow act on THAT pipeline, never the default name.

Every other ops test deploys the ``dev`` stage, whose pipeline has the default name
``dev-pytorch-training``; a command that hard-coded that name passed them all. Here the stage is named
``churn`` with ``"pipeline_name": "churn-model-training"``, and moto holds no pipeline of any other
name, so a command that builds the name itself fails ("Could not find pipeline", moto's answer for
what SageMaker reports as ResourceNotFound).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from constructs_lib.config.stage_config import StageConfig, parse_stage
from ops import cli
from ops.aws import OperatorError, StageAws
from ops.follow import check_execution_arn, follow_execution, latest_execution
from ops.start import start_pipeline
from tests.ops import shapes
from tests.ops.conftest import Deployed, create_stack, deploy, stubbed
from tests.ops.test_follow import poll

RENAMED = "churn-model-training"


@pytest.fixture
def renamed_stage() -> StageConfig:
    return parse_stage("churn", {"region": shapes.REGION, "pipeline_name": RENAMED})


@pytest.fixture
def renamed(fake_credentials: None, renamed_stage: StageConfig) -> Iterator[Deployed]:
    from moto import mock_aws

    with mock_aws():
        deployed = deploy(renamed_stage, shapes.pipeline_definition(bucket="churn-data-bucket"))
        for channel in ("train", "val", "test"):
            deployed.s3.put_object(Bucket="churn-data-bucket", Key=f"training-data/{channel}/a.parquet", Body=b"x")
        yield deployed


def test_start_starts_the_renamed_pipeline(renamed: Deployed) -> None:
    out = io.StringIO()
    assert start_pipeline(renamed.aws, "QualityThreshold=0.8", out) == 0
    (execution,) = renamed.executions()
    assert f":pipeline/{RENAMED}/execution/" in execution["arn"]
    assert execution["parameters"] == [{"Name": "QualityThreshold", "Value": "0.8"}]
    assert f"make follow STAGE=churn EXECUTION={execution['arn']}" in out.getvalue()
    pipelines = renamed.sagemaker.list_pipelines()["PipelineSummaries"]
    assert [p["PipelineName"] for p in pipelines] == [RENAMED]


def test_the_cli_starts_the_renamed_pipeline(
    renamed: Deployed, quota_granted: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through ``ops.cli`` as ``make start-pipeline STAGE=churn`` runs it (the stage from a cdk.json)."""
    monkeypatch.setattr(cli, "load_stage", lambda name: renamed.stage)
    assert cli.main(["start", "--stage", "churn"]) == 0
    assert len(renamed.executions()) == 1


def test_follow_finds_the_latest_execution_of_the_renamed_pipeline(renamed: Deployed) -> None:
    arn = renamed.sagemaker.start_pipeline_execution(PipelineName=RENAMED)["PipelineExecutionArn"]
    assert latest_execution(renamed.aws) == arn
    check_execution_arn(renamed.aws, arn)  # an execution of this stage's pipeline is accepted
    with pytest.raises(OperatorError, match=f"belongs to pipeline dev-pytorch-training, not to this stage's {RENAMED}"):
        check_execution_arn(renamed.aws, shapes.EXECUTION_ARN)


def test_follow_polls_the_renamed_pipelines_execution(renamed: Deployed) -> None:
    arn = shapes.EXECUTION_ARN.replace(shapes.PIPELINE, RENAMED)
    sagemaker, stubber = stubbed("sagemaker")
    done = [shapes.training_step("Succeeded")]
    poll(stubber, "Succeeded", done, [shapes.training_job("Completed")], arn=arn)
    out = io.StringIO()
    with stubber:
        aws = StageAws(
            renamed.stage, clients={"sagemaker": sagemaker, "cloudformation": renamed.aws.client("cloudformation")}
        )
        assert follow_execution(aws, arn, out, sleep=lambda _: None, live=False) == 0
    assert out.getvalue().splitlines()[-1] == f"execution {arn} succeeded"


def test_the_definition_is_read_from_the_renamed_pipeline(renamed: Deployed) -> None:
    assert renamed.aws.pipeline_definition()["Parameters"][0]["DefaultValue"] == "s3://churn-data-bucket/training-data"


def test_a_rename_not_yet_deployed_is_refused_before_anything_starts(
    fake_credentials: None, renamed_stage: StageConfig
) -> None:
    """cdk.json names the new pipeline, the stack still runs the old one: starting it would run the old one."""
    from moto import mock_aws

    with mock_aws():
        create_stack(renamed_stage, PipelineName="churn-pytorch-training")
        with pytest.raises(OperatorError) as raised:
            start_pipeline(StageAws(renamed_stage), "", io.StringIO())
    assert str(raised.value) == (
        f"cdk.json names this stage's pipeline {RENAMED}, but stack SageMakerTraining-churn deployed "
        "churn-pytorch-training: deploy the change first with `make deploy STAGE=churn`"
    )
