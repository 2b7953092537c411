"""``make upload-data``: every file is checked before anything is uploaded; sharded folders keep their layout."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from constructs_lib.config.stage_config import StageConfig
from ops.aws import OperatorError, StageAws, aws_errors
from ops.upload import upload_data
from tests.ops import shapes
from tests.ops.conftest import Deployed, sample_dir, write_parquet

CHANNEL_KEYS = ["training-data/test/test.parquet", "training-data/train/train.parquet", "training-data/val/val.parquet"]


def upload(deployed: Deployed, from_dir: Path, to: str | None = None) -> str:
    out = io.StringIO()
    assert upload_data(deployed.aws, from_dir, to, out) == 0
    return out.getvalue()


def test_sample_layout_goes_to_the_channels_the_deployed_pipeline_reads(deployed: Deployed, tmp_path: Path) -> None:
    output = upload(deployed, sample_dir(tmp_path))
    assert sorted(deployed.object_keys()) == CHANNEL_KEYS
    assert f"(5 rows) -> s3://{shapes.BUCKET}/training-data/train/train.parquet" in output
    assert output.endswith("3 file(s) uploaded; train on them with make start-pipeline STAGE=dev\n")


def test_sharded_folders_keep_their_relative_paths_under_another_input_uri(deployed: Deployed, tmp_path: Path) -> None:
    sample_dir(tmp_path, ("val", "test"))
    write_parquet(tmp_path / "train" / "part-00000.parquet")
    write_parquet(tmp_path / "train" / "day=2" / "part-00001.parquet")
    (tmp_path / "train" / "_SUCCESS").write_text("")
    output = upload(deployed, tmp_path, to=f"s3://{shapes.BUCKET}/training-data/2024-06/")
    assert sorted(k for k in deployed.object_keys() if "/train/" in k) == [
        "training-data/2024-06/train/day=2/part-00001.parquet",
        "training-data/2024-06/train/part-00000.parquet",
    ]
    assert f'PARAMS="InputDataUri=s3://{shapes.BUCKET}/training-data/2024-06"' in output


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / "val" / "val.parquet").write_bytes(b"not parquet"), "val.parquet: not a readable parquet file"),
        (lambda d: write_parquet(d / "val" / "val.parquet", rows=0), "val.parquet: has no rows"),
        (lambda d: write_parquet(d / "test" / "test.parquet", label="y"), "no label column 'label'"),
        (lambda d: (d / "test" / "test.parquet").unlink(), "test/: no .parquet files; the deployed pipeline reads"),
    ],
    ids=["corrupt", "empty", "no-label", "missing-channel"],
)
def test_one_bad_file_uploads_nothing(
    deployed: Deployed, tmp_path: Path, damage: Callable[[Path], object], expected: str
) -> None:
    data = sample_dir(tmp_path)
    damage(data)
    with pytest.raises(OperatorError) as raised:
        upload(deployed, data)
    assert expected in str(raised.value)
    assert str(raised.value).endswith("nothing was uploaded")
    assert deployed.object_keys() == []


def test_all_problems_are_counted(deployed: Deployed, tmp_path: Path) -> None:
    data = sample_dir(tmp_path)
    (data / "train" / "train.parquet").write_bytes(b"")
    write_parquet(data / "val" / "val.parquet", rows=0)
    with pytest.raises(OperatorError, match=r"\(and 1 more problem\(s\)\); nothing was uploaded"):
        upload(deployed, data)


def test_leftover_objects_in_a_channel_stop_the_upload(deployed: Deployed, tmp_path: Path) -> None:
    deployed.put("training-data/train/part-00007.parquet")
    with pytest.raises(OperatorError) as raised:
        upload(deployed, sample_dir(tmp_path))
    message = str(raised.value)
    assert "channel train: 1 object(s) under" in message
    assert f"e.g. s3://{shapes.BUCKET}/training-data/train/part-00007.parquet" in message
    assert f"TO=s3://{shapes.BUCKET}/training-data/<name>" in message
    assert deployed.object_keys() == ["training-data/train/part-00007.parquet"]


def test_reuploading_the_same_files_replaces_them(deployed: Deployed, tmp_path: Path) -> None:
    data = sample_dir(tmp_path)
    upload(deployed, data)
    upload(deployed, data)
    assert sorted(deployed.object_keys()) == CHANNEL_KEYS


def test_a_stage_without_the_test_channel_skips_test(deployed: Deployed, tmp_path: Path) -> None:
    definition = shapes.pipeline_definition(channels=("train", "val"))
    deployed.sagemaker.update_pipeline(PipelineName=shapes.PIPELINE, PipelineDefinition=json.dumps(definition))
    upload(deployed, sample_dir(tmp_path, ("train", "val")))
    assert sorted(deployed.object_keys()) == CHANNEL_KEYS[1:]


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (f"s3://{shapes.BUCKET}/other", f"must be s3://{shapes.BUCKET}/training-data or a folder under"),
        ("training-data/x", "must be s3://"),
    ],
)
def test_to_must_be_under_the_input_root(deployed: Deployed, tmp_path: Path, to: str, expected: str) -> None:
    with pytest.raises(OperatorError, match=expected):
        upload(deployed, sample_dir(tmp_path), to=to)
    assert deployed.object_keys() == []


def test_the_sample_is_prepared_only_once_the_stack_is_found(no_aws: None, tmp_path: Path, stage: StageConfig) -> None:
    """``make upload-sample-data`` used to generate the data, then fail on credentials."""
    prepared: list[bool] = []
    with pytest.raises(OperatorError, match="no AWS credentials found"), aws_errors(stage.region):
        upload_data(StageAws(stage), tmp_path, None, io.StringIO(), prepare=lambda: prepared.append(True))
    assert prepared == []
