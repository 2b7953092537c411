"""Fixtures for the operator CLI: an AWS environment that never reaches AWS, and a deployed stage in moto.

``no_aws`` removes every ``AWS_*`` variable, points the config and credentials files at an empty
file and turns off the instance metadata service, so botocore finds nothing and asks nothing of
the network. ``deployed`` builds, in moto, what ``make deploy STAGE=dev`` leaves behind: the stack
with its outputs and data bucket, the pipeline with a hand-written definition, the model package group.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from constructs_lib.config.stage_config import StageConfig, parse_stage
from ops import doctor
from ops.aws import StageAws
from tests.ops import shapes


@pytest.fixture(scope="session", autouse=True)
def shared_service_models() -> Iterator[None]:
    """Parse each AWS service model once per test run. moto resets boto3's default session for
    every test and ``StageAws`` opens its own, and each new session would parse the models again
    (the SageMaker one is megabytes of JSON): most of these tests' time, without this."""
    loader = botocore.loaders.create_loader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda search_path_string=None: loader)
        yield


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials, region, profile, config file or metadata service."""
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def fake_credentials(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Static credentials for moto (never sent anywhere)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def quota_granted(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto has no ListServiceQuotas for SageMaker: CLI tests that start a run through the doctor take the
    training quota as granted (tests/ops/test_doctor.py checks the quota against Stubber responses)."""
    monkeypatch.setattr(doctor, "check_training_quota", lambda aws, sleep: ("training quota", True, "granted"))


@pytest.fixture
def stage() -> StageConfig:
    """The dev stage as cdk.json declares it (region us-east-1, no pinned account)."""
    return parse_stage("dev", {"region": shapes.REGION})


def create_stack(stage: StageConfig, **outputs: str | None) -> None:
    """The stage's stack in moto with its outputs (``NAME=None`` leaves one out). The CDK stack has
    many more resources; the CLI reads only the outputs, and moto creates the data bucket."""
    values: dict[str, Any] = {
        "DataBucketName": {"Ref": "DataBucket"},
        "PipelineName": stage.resolved_pipeline_name,
        "ModelPackageGroupName": shapes.GROUP,
        **outputs,
    }
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"{stage.name}-data-bucket"}}
    template = {
        "Resources": {"DataBucket": bucket},
        "Outputs": {key: {"Value": value} for key, value in values.items() if value is not None},
    }
    boto3.client("cloudformation", region_name=stage.region).create_stack(
        StackName=f"SageMakerTraining-{stage.name}", TemplateBody=json.dumps(template)
    )


@dataclass
class Deployed:
    """The moto-backed stage and clients to arrange and inspect it."""

    stage: StageConfig
    aws: StageAws
    s3: Any
    sagemaker: Any

    def put(self, key: str, body: bytes = b"x") -> None:
        """One object in the data bucket."""
        self.s3.put_object(Bucket=shapes.BUCKET, Key=key, Body=body)

    def object_keys(self) -> list[str]:
        """Every key in the data bucket."""
        return [item["Key"] for item in self.s3.list_objects_v2(Bucket=shapes.BUCKET).get("Contents", [])]

    @property
    def pipeline(self) -> str:
        """The deployed pipeline's name: the stage's ``resolved_pipeline_name``."""
        return self.stage.resolved_pipeline_name

    def executions(self) -> list[dict[str, Any]]:
        """Executions of the pipeline, each with the parameters it was started with."""
        summaries = self.sagemaker.list_pipeline_executions(PipelineName=self.pipeline)["PipelineExecutionSummaries"]
        return [
            {
                "arn": s["PipelineExecutionArn"],
                "parameters": self.sagemaker.list_pipeline_parameters_for_execution(
                    PipelineExecutionArn=s["PipelineExecutionArn"]
                ).get("PipelineParameters", []),
            }
            for s in summaries
        ]


def deploy(stage: StageConfig, definition: dict[str, Any]) -> Deployed:
    """Create, in the active moto mock, what ``make deploy`` creates."""
    region = stage.region
    create_stack(stage)
    sagemaker = boto3.client("sagemaker", region_name=region)
    sagemaker.create_pipeline(
        PipelineName=stage.resolved_pipeline_name,
        PipelineDefinition=json.dumps(definition),
        RoleArn=f"arn:aws:iam::{shapes.ACCOUNT}:role/PipelineRole",
    )
    sagemaker.create_model_package_group(ModelPackageGroupName=shapes.GROUP)
    return Deployed(stage, StageAws(stage), boto3.client("s3", region_name=region), sagemaker)


@pytest.fixture
def deployed(fake_credentials: None, stage: StageConfig) -> Iterator[Deployed]:
    """The dev stage deployed in moto, with the default hand-written definition."""
    with mock_aws():
        yield deploy(stage, shapes.pipeline_definition())


def stubbed(service: str) -> tuple[Any, Stubber]:
    """A client whose every call must be queued on its Stubber (which checks each response's shape)."""
    client = boto3.client(service, region_name=shapes.REGION, aws_access_key_id="stub", aws_secret_access_key="stub")
    return client, Stubber(client)


class Terminal(io.StringIO):
    """Captured output that says it is a terminal."""

    def isatty(self) -> bool:
        """Pretend to be a TTY."""
        return True


def write_parquet(path: Path, rows: int = 5, label: str = "label") -> Path:
    """A small parquet file with a feature and the label column (``rows`` may be 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"f0": [0.5] * rows, label: [index % 2 for index in range(rows)]}), path)
    return path


def sample_dir(root: Path, channels: tuple[str, ...] = ("train", "val", "test")) -> Path:
    """``root/<channel>/<channel>.parquet`` for each channel, as ``make upload-sample-data`` reads it."""
    for channel in channels:
        write_parquet(root / channel / f"{channel}.parquet")
    return root
