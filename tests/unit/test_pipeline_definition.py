"""The whole definition, rendered offline with the real SDK: parameters, ModelTraining, QualityGate with
its QualityGateFailed branch, RegisterModel, and nothing else (no repack job, no timestamp)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.definition.checks import all_steps
from constructs_lib.definition.render import render_pipeline_definition
from tests.conftest import evaluate, step_named
from tests.unit.definition_requests import make_request
from training_src import contract

REGISTER_STEP = "RegisterModel-RegisterModel"  # how the SDK names the single step of ModelStep("RegisterModel")
GPU_REGISTRY = RegistrySettings(
    approval_status="Approved",
    quality_threshold=0.8,
    inference_instance_types=["ml.g5.xlarge"],
    transform_instance_types=["ml.g5.2xlarge"],
)
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}")
"""``sagemaker.utils.name_from_base`` stamps job names and repack output paths like this."""


@pytest.fixture(scope="module")
def with_test() -> dict[str, Any]:
    """A CPU stage that declares test (the default), pending approval."""
    definition: dict[str, Any] = json.loads(render_pipeline_definition(make_request()))
    return definition


@pytest.fixture(scope="module")
def without_test() -> dict[str, Any]:
    """A GPU stage (NVMe instance storage) without a test channel, whose versions may be approved."""
    request = make_request(instance_type="ml.g5.xlarge", channels=("train", "val"), registry=GPU_REGISTRY)
    definition: dict[str, Any] = json.loads(render_pipeline_definition(request))
    return definition


def shape(steps: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(step["Name"], step["Type"]) for step in steps]


def extra_jobs_and_timestamps(definition: dict[str, Any]) -> list[str]:
    """What a repack would add: Training steps other than ModelTraining, and timestamped names or paths."""
    found = [step["Name"] for step in all_steps(definition["Steps"]) if step["Type"] == "Training"]
    found = [name for name in found if name != "ModelTraining"]
    return found + TIMESTAMP.findall(json.dumps(definition))


def test_parameters_first_with_the_stage_defaults(with_test: dict[str, Any], without_test: dict[str, Any]) -> None:
    assert list(with_test)[:3] == ["Version", "Metadata", "Parameters"]
    assert with_test["Parameters"] == [
        {"Name": "InputDataUri", "Type": "String", "DefaultValue": "s3://data-bucket/training-data"},
        {"Name": "QualityThreshold", "Type": "Float", "DefaultValue": 0.7},
        {
            "Name": "ModelApprovalStatus",
            "Type": "String",
            "DefaultValue": "PendingManualApproval",
            "EnumValues": ["PendingManualApproval"],
        },
    ]
    defaults = {p["Name"]: p["DefaultValue"] for p in without_test["Parameters"]}
    assert defaults["QualityThreshold"] == 0.8 and defaults["ModelApprovalStatus"] == "Approved"
    (status,) = [p for p in without_test["Parameters"] if p["Name"] == "ModelApprovalStatus"]
    assert status["EnumValues"] == ["PendingManualApproval", "Approved"]  # an Approved stage may also register pending


def test_steps_train_then_gate_then_register_or_fail(with_test: dict[str, Any]) -> None:
    assert shape(with_test["Steps"]) == [("ModelTraining", "Training"), ("QualityGate", "Condition")]
    gate = with_test["Steps"][1]["Arguments"]
    assert shape(gate["IfSteps"]) == [(REGISTER_STEP, "RegisterModel")]
    assert shape(gate["ElseSteps"]) == [("QualityGateFailed", "Fail")]


def test_no_repack_job_and_no_timestamp(with_test: dict[str, Any], without_test: dict[str, Any]) -> None:
    assert extra_jobs_and_timestamps(with_test) == []
    assert extra_jobs_and_timestamps(without_test) == []


def test_the_repack_check_catches_a_repack_step(with_test: dict[str, Any]) -> None:
    """Negative case: PyTorchModel(entry_point=...) adds a Training step like this, output under a timestamp."""
    definition = copy.deepcopy(with_test)
    repack = {"Name": "RegisterModel-RepackModel-0", "Type": "Training", "Arguments": {}}
    repack["Arguments"]["OutputDataConfig"] = {"S3OutputPath": "s3://b/sagemaker-scikit-learn-2026-01-02-03-04-05-678"}
    definition["Steps"][1]["Arguments"]["IfSteps"].insert(0, repack)
    assert extra_jobs_and_timestamps(definition) == ["RegisterModel-RepackModel-0", "2026-01-02-03-04-05"]


@pytest.mark.parametrize(
    ("fixture", "metric"),
    [("with_test", contract.GATE_METRIC_WITH_TEST), ("without_test", contract.GATE_METRIC_WITHOUT_TEST)],
)
def test_gate_compares_the_selected_model_metric_with_the_threshold(
    fixture: str, metric: str, request: pytest.FixtureRequest
) -> None:
    definition = request.getfixturevalue(fixture)
    (condition,) = step_named(definition, "QualityGate")["Arguments"]["Conditions"]
    assert condition == {
        "Type": "GreaterThanOrEqualTo",
        "LeftValue": {"Get": f"Steps.ModelTraining.FinalMetricDataList['{metric}'].Value"},
        "RightValue": {"Get": "Parameters.QualityThreshold"},
    }
    # FinalMetricDataList is keyed by a MetricDefinition's Name; the SDK does not check the key, so we do.
    names = [
        m["Name"]
        for m in step_named(definition, "ModelTraining")["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    ]
    assert metric in names


def test_fail_message_names_metric_value_and_threshold(with_test: dict[str, Any]) -> None:
    message = step_named(with_test, "QualityGateFailed")["Arguments"]["ErrorMessage"]
    metric = {"Get": "Steps.ModelTraining.FinalMetricDataList['Test AUC ROC'].Value"}
    assert metric in message["Std:Join"]["Values"]
    with_value = json.loads(json.dumps(message).replace(json.dumps(metric), "0.61"))
    assert evaluate(with_value, with_test) == (
        "Quality gate failed: Test AUC ROC = 0.61 is below QualityThreshold = 0.7; the model was not registered."
    )


def test_register_model_serves_the_training_artifact_as_it_is(with_test: dict[str, Any]) -> None:
    arguments = step_named(with_test, REGISTER_STEP)["Arguments"]
    assert arguments["ModelPackageGroupName"] == "unit-models"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    specification = arguments["InferenceSpecification"]
    (container,) = specification["Containers"]
    assert container == {
        "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
        "ModelDataUrl": {"Get": "Steps.ModelTraining.ModelArtifacts.S3ModelArtifacts"},
    }
    assert specification["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert specification["SupportedResponseMIMETypes"] == ["application/json", "text/csv"]
    assert specification["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large"]
    assert specification["SupportedTransformInstanceTypes"] == ["ml.m5.large"]
    assert "Tags" not in arguments  # sagemaker:AddTags is then not needed by the pipeline role


def test_the_version_records_the_figures_the_gate_saw(with_test: dict[str, Any], without_test: dict[str, Any]) -> None:
    metadata = step_named(with_test, REGISTER_STEP)["Arguments"]["CustomerMetadataProperties"]
    assert metadata["QualityGateMetric"] == "Test AUC ROC"
    assert evaluate(metadata["QualityThreshold"], with_test) == "0.7"
    assert metadata["TrainingJobName"] == {"Get": "Steps.ModelTraining.TrainingJobName"}
    for name in ("Test AUC ROC", "Test F1 Score", "Selected Validation AUC ROC"):
        value = {"Get": f"Steps.ModelTraining.FinalMetricDataList['{name}'].Value"}
        assert metadata[name] == {"Std:Join": {"On": "", "Values": [value]}}  # a string, as the API requires
    without = step_named(without_test, REGISTER_STEP)["Arguments"]["CustomerMetadataProperties"]
    assert set(without) == {"QualityGateMetric", "QualityThreshold", "TrainingJobName", "Selected Validation AUC ROC"}


def test_channels_are_the_declared_folders(with_test: dict[str, Any], without_test: dict[str, Any]) -> None:
    for definition, channels in ((with_test, contract.CHANNELS), (without_test, contract.REQUIRED_CHANNELS)):
        config = step_named(definition, "ModelTraining")["Arguments"]["InputDataConfig"]
        uris = {c["ChannelName"]: evaluate(c["DataSource"]["S3DataSource"]["S3Uri"], definition) for c in config}
        assert uris == {channel: f"s3://data-bucket/training-data/{channel}/" for channel in channels}


def objects_in_channel(uri: str) -> list[str]:
    """S3 matches S3Prefix as a plain key prefix (S3DataSource, SageMaker API Reference:
    "SageMaker uses all objects that match the specified key name prefix for model training",
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html)."""
    keys = [
        "s3://data-bucket/training-data/train/train.parquet",  # the seed's layout
        "s3://data-bucket/training-data/train/dt=2026-11-01/part-00000.parquet",  # Hive-style partitions
        "s3://data-bucket/training-data/train-old/train.parquet",  # a sibling folder
    ]
    return [key for key in keys if key.startswith(uri)]


def test_a_channel_folder_does_not_match_its_siblings(with_test: dict[str, Any]) -> None:
    (train,) = [
        c for c in step_named(with_test, "ModelTraining")["Arguments"]["InputDataConfig"] if c["ChannelName"] == "train"
    ]
    uri = evaluate(train["DataSource"]["S3DataSource"]["S3Uri"], with_test)
    assert [key.rsplit("training-data/", 1)[1] for key in objects_in_channel(uri)] == [
        "train/train.parquet",
        "train/dt=2026-11-01/part-00000.parquet",
    ]
    assert len(objects_in_channel(uri.rstrip("/"))) == 3, "negative case: without the slash, train-old/ is read too"


def test_nvme_instance_types_get_no_volume_size_or_key(without_test: dict[str, Any]) -> None:
    """ResourceConfig, SageMaker API Reference (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html):
    VolumeSizeInGB: "When using an ML instance with NVMe SSD volumes, SageMaker doesn't provision Amazon EBS General
    Purpose SSD (gp2) storage. Available storage is fixed to the NVMe-type instance's storage capacity. [...] ML
    instance families with the NVMe-type instance storage include ml.p4d, ml.g4dn, and ml.g5."
    VolumeKmsKeyId: "You can't request a VolumeKmsKeyId when using an instance type with local storage." The SDK's
    estimator docs add: for those instance types "do not include this parameter" (volume_size)."""
    resources = step_named(without_test, "ModelTraining")["Arguments"]["ResourceConfig"]
    assert resources == {"InstanceCount": 1, "InstanceType": "ml.g5.xlarge"}


def test_overrides_reach_the_definition() -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-pytorch:2.9.0-cpu-py312"
    serving = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-serving:1"
    registry = RegistrySettings(inference_image_uri=serving, inference_instance_types=["ml.m5.large", "ml.g5.xlarge"])
    definition = json.loads(
        render_pipeline_definition(make_request(image_uri=image, volume_size=50, registry=registry))
    )
    arguments = step_named(definition, "ModelTraining")["Arguments"]
    assert arguments["AlgorithmSpecification"]["TrainingImage"] == image
    assert arguments["ResourceConfig"]["VolumeSizeInGB"] == 50
    (container,) = step_named(definition, REGISTER_STEP)["Arguments"]["InferenceSpecification"]["Containers"]
    assert container["Image"] == serving  # an explicit image may serve CPU and GPU types alike
