"""``make start-pipeline``: PARAMS and every declared channel are checked before anything starts (moto).

SageMaker fails CreateTrainingJob with ValidationException 'No S3 objects found under S3 URL "..."
given in input data source' when a channel's prefix matches no object ("S3DataSource", SageMaker API
Reference, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html: an
S3Prefix channel uses "all objects that match the specified key name prefix"). The preflight lists
the same prefix, so the negative cases below must start nothing.
"""

from __future__ import annotations

import io
import json

import pytest

from ops import cli
from ops.aws import OperatorError, StageAws
from ops.definition import channels
from ops.preflight import check_channels, check_credentials
from ops.start import start_pipeline
from tests.ops import shapes
from tests.ops.conftest import Deployed

ROOT = f"s3://{shapes.BUCKET}/training-data"
CHANNELS = ("train", "val", "test")


def put_channels(deployed: Deployed, folder: str = "training-data", channels: tuple[str, ...] = CHANNELS) -> None:
    for channel in channels:
        deployed.put(f"{folder}/{channel}/part-00000.parquet")


def run_start(deployed: Deployed, params: str = "") -> str:
    out = io.StringIO()
    assert start_pipeline(deployed.aws, params, out) == 0
    return out.getvalue()


def test_starts_with_the_deployed_defaults_once_every_channel_has_data(deployed: Deployed) -> None:
    put_channels(deployed)
    output = run_start(deployed)
    (execution,) = deployed.executions()
    assert execution["parameters"] == []
    for channel in ("train", "val", "test"):
        assert f"channel {channel}: data found under {ROOT}/{channel}/" in output
    assert f"started {execution['arn']} with the deployed defaults" in output
    assert f"make follow STAGE=dev EXECUTION={execution['arn']}" in output


def test_params_are_passed_normalised_and_the_preflight_reads_their_uri(deployed: Deployed) -> None:
    put_channels(deployed, "training-data/2024-06")
    run_start(deployed, f"QualityThreshold=0.85 InputDataUri={ROOT}/2024-06/ UseSpot=false")
    (execution,) = deployed.executions()
    assert execution["parameters"] == [
        {"Name": "QualityThreshold", "Value": "0.85"},
        {"Name": "InputDataUri", "Value": f"{ROOT}/2024-06"},
        {"Name": "UseSpot", "Value": "False"},
    ]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            ["training-data/train/a.parquet", "training-data/test/a.parquet"],
            f"channel val: no objects under {ROOT}/val/",
        ),
        (
            ["training-data/train/a.parquet", "training-data/val/", "training-data/test/a.parquet"],
            "channel val: no obj",
        ),
        (["training-data/train/a.parquet", "training-data/val-old/a.parquet"], "channel val: no objects"),
        (
            ["training-data/train/a.csv"],
            "channel train: 1 object(s) under s3://dev-data-bucket/training-data/train/ but",
        ),
    ],
    ids=["missing", "folder-marker-only", "sibling-prefix", "no-parquet"],
)
def test_a_channel_without_data_starts_nothing(deployed: Deployed, keys: list[str], expected: str) -> None:
    for key in keys:
        deployed.put(key)
    with pytest.raises(OperatorError) as raised:
        run_start(deployed)
    assert expected in str(raised.value)
    assert "the run was not started" in str(raised.value)
    assert deployed.executions() == []


def test_data_under_the_default_uri_does_not_satisfy_another_input_uri(deployed: Deployed) -> None:
    put_channels(deployed)
    with pytest.raises(OperatorError, match=f"no objects under {ROOT}/2024-06/train/"):
        run_start(deployed, f"InputDataUri={ROOT}/2024-06")
    assert deployed.executions() == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("Threshold=0.9", "unknown parameter 'Threshold'"),
        ("QualityThreshold=high", "QualityThreshold='high' is not a valid Float"),
        ("InputDataUri=s3://elsewhere/data", f"must be {ROOT} or a folder under {ROOT}/"),
    ],
)
def test_bad_params_are_one_line_before_anything_starts(
    deployed: Deployed, quota_granted: None, capsys: pytest.CaptureFixture[str], params: str, expected: str
) -> None:
    put_channels(deployed)
    assert cli.main(["start", "--stage", "dev", "--params", params]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: stage dev: PARAMS: ")
    assert expected in err
    assert err.count("\n") == 1
    assert deployed.executions() == []


def test_a_stage_without_the_test_channel_needs_no_test_data(deployed: Deployed) -> None:
    definition = shapes.pipeline_definition(channels=("train", "val"))
    deployed.sagemaker.update_pipeline(PipelineName=shapes.PIPELINE, PipelineDefinition=json.dumps(definition))
    put_channels(deployed, channels=("train", "val"))
    assert "channel test" not in run_start(deployed)
    assert len(deployed.executions()) == 1


def test_an_unresolvable_channel_uri_is_reported_not_crashed_on(deployed: Deployed) -> None:
    uri = {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    definition = shapes.pipeline_definition(uri=uri)
    deployed.sagemaker.update_pipeline(PipelineName=shapes.PIPELINE, PipelineDefinition=json.dumps(definition))
    with pytest.raises(OperatorError, match="step ModelTraining, channel train: its S3 URI uses"):
        run_start(deployed)
    assert deployed.executions() == []


def test_a_manifest_channel_needs_its_manifest_object(deployed: Deployed) -> None:
    manifest = shapes.input_channel("train", f"{ROOT}/train.manifest", data_type="ManifestFile")
    step = {"Name": "ModelTraining", "Type": "Training", "Arguments": {"InputDataConfig": [manifest]}}
    (channel,) = channels({"Steps": [step]}, {})
    with pytest.raises(OperatorError, match=r"train\.manifest does not exist"):
        check_channels(deployed.aws, [channel])
    deployed.put("training-data/train.manifest")
    assert check_channels(deployed.aws, [channel]) == [f"channel train: data found under {ROOT}/train.manifest"]


def test_follow_is_handed_the_new_execution(deployed: Deployed) -> None:
    put_channels(deployed)
    followed: list[str] = []

    def follow(aws: StageAws, arn: str, out: io.StringIO) -> int:
        followed.append(arn)
        return 7

    assert start_pipeline(deployed.aws, "", io.StringIO(), follow) == 7
    assert followed == [deployed.executions()[0]["arn"]]


def test_credentials_check_names_identity_and_stage(deployed: Deployed) -> None:
    line = check_credentials(deployed.aws)
    assert line.startswith("AWS credentials: arn:aws:sts::123456789012:user/moto (account 123456789012)")
    assert line.endswith("stage dev in us-east-1")
