"""The training step's JSON, rendered offline with the real SageMaker SDK (no mocks)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from constructs_lib.config.errors import FieldError
from constructs_lib.config.model_config import ModelHyperparameters
from constructs_lib.config.stage_config import NetworkSettings
from constructs_lib.definition.render import render_pipeline_definition
from constructs_lib.definition.render_cache import ROLE_PLACEHOLDER, SOURCE_BUNDLE_PLACEHOLDER, kms_key_placeholder
from tests.unit.definition_requests import REGION, make_request, training_step
from training_src import contract

SEED_METRICS = [
    {"Name": "Train Loss", "Regex": "train_loss=([0-9\\.]+)"},
    {"Name": "Validation Loss", "Regex": "val_loss=([0-9\\.]+)"},
    {"Name": "Validation F1 Score", "Regex": "val/f1_score=([0-9\\.]+)"},
    {"Name": "Validation AUC ROC", "Regex": "val/auroc=([0-9\\.]+)"},
]


@pytest.fixture(scope="module")
def rendered() -> str:
    return render_pipeline_definition(make_request())


@pytest.fixture(scope="module")
def arguments(rendered: str) -> dict[str, Any]:
    step = training_step(rendered)
    assert step["Name"] == "ModelTraining" and step["Type"] == "Training"
    args: dict[str, Any] = step["Arguments"]
    return args


def test_estimator_settings(arguments: dict[str, Any]) -> None:
    assert arguments["RoleArn"] == ROLE_PLACEHOLDER
    assert arguments["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert arguments["ResourceConfig"]["InstanceCount"] == 1
    assert arguments["ResourceConfig"]["VolumeSizeInGB"] == 30
    assert arguments["ResourceConfig"]["VolumeKmsKeyId"] == kms_key_placeholder(REGION)
    assert arguments["StoppingCondition"] == {"MaxRuntimeInSeconds": 4 * 24 * 3600}
    image = arguments["AlgorithmSpecification"]["TrainingImage"]
    assert image == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8.0-cpu-py312"
    assert (
        "EnableInterContainerTrafficEncryption" not in arguments
        or not arguments["EnableInterContainerTrafficEncryption"]
    )


def test_entry_point_and_source_bundle(arguments: dict[str, Any]) -> None:
    hyperparameters = arguments["HyperParameters"]
    assert json.loads(hyperparameters["sagemaker_program"]) == "train.py"
    assert json.loads(hyperparameters["sagemaker_submit_directory"]) == SOURCE_BUNDLE_PLACEHOLDER


def test_hyperparameters_come_from_serialize_config(arguments: dict[str, Any]) -> None:
    hyperparameters = arguments["HyperParameters"]
    expected = ModelHyperparameters(epochs=7, feature_columns=["f0", "f1"]).serialize_config()
    for name, value in expected.items():
        assert json.loads(hyperparameters[name]) == value
    assert json.loads(hyperparameters["feature_columns"]) == '["f0","f1"]'


def test_output_and_per_execution_checkpoints(arguments: dict[str, Any]) -> None:
    assert arguments["OutputDataConfig"]["S3OutputPath"] == "s3://artifacts-bucket/training-output"
    assert arguments["OutputDataConfig"]["KmsKeyId"] == kms_key_placeholder(REGION)
    checkpoint = arguments["CheckpointConfig"]
    assert checkpoint["LocalPath"] == "/opt/ml/checkpoints" == contract.CHECKPOINT_LOCAL_PATH
    assert checkpoint["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3://artifacts-bucket/training-output",
                "checkpoints",
                {"Get": "Execution.PipelineExecutionId"},
            ],
        }
    }


def test_profiler_and_metrics(arguments: dict[str, Any]) -> None:
    assert arguments["ProfilerConfig"]["ProfilingIntervalInMilliseconds"] == 1000
    metrics = arguments["AlgorithmSpecification"]["MetricDefinitions"]
    assert metrics[:4] == SEED_METRICS
    assert {"Name": "Test F1 Score", "Regex": "test/f1_score=([0-9\\.]+)"} in metrics
    assert {"Name": "Test AUC ROC", "Regex": "test/auroc=([0-9\\.]+)"} in metrics


def test_channels_are_folders_under_the_input_parameter(arguments: dict[str, Any]) -> None:
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in arguments["InputDataConfig"]}
    assert list(channels) == list(contract.CHANNELS)
    for channel, source in channels.items():
        assert source["S3DataType"] == "S3Prefix"
        assert source["S3Uri"] == {
            "Std:Join": {"On": "/", "Values": [{"Get": "Parameters.InputDataUri"}, f"{channel}/"]}
        }


def test_input_mode_is_file_by_default_and_fastfile_on_request(arguments: dict[str, Any]) -> None:
    """CreateTrainingJob's per-channel ``InputMode`` (Channel, SageMaker API Reference): File copies every object
    before training starts; FastFile "streams data directly from S3 to the container with no code changes, and
    provides file system access to the data" (TrainingInputMode)."""
    assert all("InputMode" not in channel or channel["InputMode"] == "File" for channel in arguments["InputDataConfig"])
    fast = training_step(render_pipeline_definition(make_request(input_mode="FastFile")))["Arguments"]
    assert [channel["InputMode"] for channel in fast["InputDataConfig"]] == ["FastFile"] * len(contract.CHANNELS)


def test_retry_policies(rendered: str) -> None:
    policies = training_step(rendered)["RetryPolicies"]
    exception_types = {kind for policy in policies for kind in policy["ExceptionType"]}
    assert exception_types == {
        "SageMaker.JOB_INTERNAL_ERROR",
        "SageMaker.CAPACITY_ERROR",
        "SageMaker.RESOURCE_LIMIT",
        "Step.THROTTLING",
        "Step.SERVICE_FAULT",
    }
    assert all(p["MaxAttempts"] == 4 and p["IntervalSeconds"] == 30 and p["BackoffRate"] == 1.5 for p in policies)


def test_no_wall_clock_and_render_twice_is_identical(rendered: str) -> None:
    assert render_pipeline_definition(make_request()) == rendered
    assert (
        "PipelineExperimentConfig" not in json.loads(rendered)
        or json.loads(rendered)["PipelineExperimentConfig"] is None
    )


def test_renders_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    definition = render_pipeline_definition(make_request(instance_type="ml.c5.2xlarge"))
    assert training_step(definition)["Arguments"]["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge"
    assert attempts == []


def test_multi_instance_gpu_uses_torchrun_and_encrypts_traffic() -> None:
    args = training_step(render_pipeline_definition(make_request(instance_type="ml.g5.xlarge", instance_count=2)))[
        "Arguments"
    ]
    assert args["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    assert args["EnableInterContainerTrafficEncryption"] is True
    assert args["ResourceConfig"]["InstanceCount"] == 2
    assert "VolumeKmsKeyId" not in args["ResourceConfig"], "g5 has NVMe instance storage and takes no volume key"
    assert args["AlgorithmSpecification"]["TrainingImage"].endswith("pytorch-training:2.8.0-gpu-py312")


def test_a_single_multi_gpu_instance_runs_one_process_per_gpu_through_torchrun() -> None:
    """With ``sagemaker_torch_distributed_enabled`` the PyTorch toolkit runs ``torchrun --nproc_per_node
    <GPUs found by nvidia-smi>`` (sagemaker-training 5.1.4, runner.py ``default_processes_per_host``;
    tests/training/test_toolkit.py runs it). Without it, ml.g5.12xlarge x 1 ran one process on cuda:0."""
    args = training_step(render_pipeline_definition(make_request(instance_type="ml.g5.12xlarge")))["Arguments"]
    assert args["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    assert args["ResourceConfig"]["InstanceCount"] == 1
    cpu = training_step(render_pipeline_definition(make_request(instance_type="ml.c5.2xlarge")))["Arguments"]
    assert "sagemaker_torch_distributed_enabled" not in cpu["HyperParameters"]  # CPU: one process, as before


def test_multi_instance_cpu_is_a_clear_error_naming_the_setting() -> None:
    """The builder names the setting relative to the props; the stack or construct says where it came from."""
    with pytest.raises(FieldError) as raised:
        render_pipeline_definition(make_request(instance_count=2))
    assert raised.value.field == "model"
    assert raised.value.detail.startswith("the SageMaker SDK rejects instance_type=ml.m5.xlarge")
    assert "instance_count=2" in raised.value.detail and "\n" not in raised.value.detail


def test_fixed_checkpoint_uri_spot_and_network() -> None:
    request = make_request(
        checkpoint_uri="s3://artifacts-bucket/fixed-checkpoints",
        use_spot_instances=True,
        max_run=3600,
        max_wait=7200,
        network=NetworkSettings(enable_network_isolation=True, subnet_ids=["subnet-1"], security_group_ids=["sg-1"]),
    )
    args = training_step(render_pipeline_definition(request))["Arguments"]
    assert args["CheckpointConfig"]["S3Uri"] == "s3://artifacts-bucket/fixed-checkpoints"
    assert args["EnableManagedSpotTraining"] is True
    assert args["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert args["EnableNetworkIsolation"] is True
    assert args["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
