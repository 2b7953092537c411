"""Snapshots of each stage's synthesized template, plus fine-grained assertions on what matters."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import (
    STAGES,
    definition_of,
    evaluate,
    pipeline_definition_parts,
    step_named,
    submit_directory_asset_hash,
    training_arguments,
)

ASSET_HASH = re.compile(r"[0-9a-f]{64}")
BUNDLE_NAME = re.compile(r"sourcedir-[0-9a-f]{16}\.tar\.gz")


def normalized(template: dict[str, Any]) -> Any:
    """The template with code-asset hashes and bundle names masked: the snapshot is about infrastructure, not code."""
    text = BUNDLE_NAME.sub("sourcedir-<bundle-hash>.tar.gz", ASSET_HASH.sub("<asset-hash>", json.dumps(template)))
    return json.loads(text)


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stage", STAGES)
def test_template_snapshot(stage: str, templates: dict[str, dict[str, Any]], snapshot_json: SnapshotAssertion) -> None:
    assert normalized(templates[stage]) == snapshot_json


@pytest.mark.parametrize("stage", STAGES)
def test_one_pipeline_with_training_step(stage: str, templates: dict[str, dict[str, Any]]) -> None:
    template = Template.from_json(templates[stage])
    template.resource_count_is("AWS::SageMaker::Pipeline", 1)
    template.has_resource_properties(
        "AWS::SageMaker::Pipeline",
        {
            "PipelineName": f"{stage}-pytorch-training",
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("^PipelineRole"), "Arn"]},
            "PipelineDefinition": {"PipelineDefinitionBody": {"Fn::Join": ["", Match.any_value()]}},
        },
    )
    arguments = training_arguments(templates[stage])
    assert json.loads(arguments["HyperParameters"]["sagemaker_program"]) == "train.py"
    regexes = [m["Regex"] for m in arguments["AlgorithmSpecification"]["MetricDefinitions"]]
    assert regexes[0] == "train_loss=([0-9\\.]+)"
    definition = definition_of(templates[stage])
    channels = {
        c["ChannelName"]: evaluate(c["DataSource"]["S3DataSource"]["S3Uri"], definition)
        for c in arguments["InputDataConfig"]
    }
    data_bucket = next(v for v in channels.values()).split("/")[2]
    assert data_bucket.startswith("Ref:StorageDataBucket")
    assert channels == {ch: f"s3://{data_bucket}/training-data/{ch}/" for ch in ("train", "val", "test")}
    checkpoint = arguments["CheckpointConfig"]["S3Uri"]["Std:Join"]["Values"]
    assert checkpoint[1:] == ["checkpoints", {"Get": "Execution.PipelineExecutionId"}]
    assert "cdk-placeholder" not in json.dumps(arguments)


@pytest.mark.parametrize("stage", STAGES)
def test_definition_tokens_point_at_stack_resources(stage: str, templates: dict[str, dict[str, Any]]) -> None:
    tokens = [json.dumps(p) for p in pipeline_definition_parts(templates[stage]) if not isinstance(p, str)]
    assert any("TrainingRole" in t and "Arn" in t for t in tokens)
    assert any("StorageKey" in t for t in tokens)
    assert any("StorageDataBucket" in t for t in tokens)
    assert any("StorageArtifactsBucket" in t for t in tokens)
    assert not any("PipelineRole" in t for t in tokens), "the training job must not run as the pipeline role"


def test_stage_settings_reach_the_definition(templates: dict[str, dict[str, Any]]) -> None:
    dev, prod = training_arguments(templates["dev"]), training_arguments(templates["prod"])
    assert dev["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge" and dev["ResourceConfig"]["InstanceCount"] == 1
    assert prod["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge" and prod["ResourceConfig"]["InstanceCount"] == 2
    assert json.loads(dev["HyperParameters"]["epochs"]) == "5"
    assert json.loads(prod["HyperParameters"]["epochs"]) == "20"
    assert prod["HyperParameters"]["sagemaker_torch_distributed_enabled"] == "true"
    assert prod["EnableInterContainerTrafficEncryption"] is True
    assert dev["AlgorithmSpecification"]["TrainingImage"].endswith(
        "dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8.0-cpu-py312"
    )
    assert prod["AlgorithmSpecification"]["TrainingImage"].endswith(
        "dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.8.0-gpu-py312"
    )
    assert dev["StoppingCondition"]["MaxRuntimeInSeconds"] == 86400
    assert dev["RoleArn"].startswith("GetAtt:TrainingRole") and dev["RoleArn"].endswith(".Arn")
    assert dev["OutputDataConfig"]["KmsKeyId"].startswith("GetAtt:StorageKey")


@pytest.mark.parametrize("stage", STAGES)
def test_submit_directory_is_a_tar_gz_asset_in_cdk_out(
    stage: str, templates: dict[str, dict[str, Any]], synthesized_outdir: Path
) -> None:
    asset_hash = submit_directory_asset_hash(templates[stage])
    bundle = synthesized_outdir / f"asset.{asset_hash}.tar.gz"
    assert bundle.is_file()
    manifest = json.loads((synthesized_outdir / f"SageMakerTraining-{stage}.assets.json").read_text())
    assert manifest["files"][asset_hash]["source"] == {"path": bundle.name, "packaging": "file"}
    with tarfile.open(bundle, mode="r:gz") as archive:
        names = archive.getnames()
    assert "train.py" in names and "contract.py" in names and "requirements.txt" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


@pytest.mark.parametrize("stage", STAGES)
def test_outputs(stage: str, templates: dict[str, dict[str, Any]]) -> None:
    outputs = templates[stage]["Outputs"]
    for name in ("PipelineName", "DataBucketName", "ArtifactsBucketName", "TrainingRoleArn", "PipelineRoleArn"):
        assert name in outputs
    assert outputs["PipelineName"]["Value"] == f"{stage}-pytorch-training"
    assert outputs["ModelPackageGroupName"]["Value"] == f"{stage}-pytorch-models"


@pytest.mark.parametrize("stage", STAGES)
def test_pipeline_registers_into_the_stacks_group(stage: str, templates: dict[str, dict[str, Any]]) -> None:
    resources = templates[stage]["Resources"]
    (group_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    group = resources[group_id]["Properties"]
    (pipeline,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    assert group_id in pipeline["DependsOn"], "the group must exist before the first execution registers into it"
    register = step_named(definition_of(templates[stage]), "RegisterModel-RegisterModel")["Arguments"]
    assert register["ModelPackageGroupName"] == group["ModelPackageGroupName"] == f"{stage}-pytorch-models"
    parameters = {p["Name"]: p for p in definition_of(templates[stage])["Parameters"]}
    assert parameters["InputDataUri"]["DefaultValue"].startswith("s3://Ref:StorageDataBucket")
    assert parameters["InputDataUri"]["DefaultValue"].endswith("/training-data")
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert parameters["QualityThreshold"]["DefaultValue"] == {"dev": 0.7, "prod": 0.75}[stage]


def test_prod_trains_on_nvme_storage_without_an_ebs_volume(templates: dict[str, dict[str, Any]]) -> None:
    """ml.g5 has NVMe instance storage: no VolumeSizeInGB (see tests/unit/test_pipeline_definition.py for the doc)."""
    assert training_arguments(templates["prod"])["ResourceConfig"] == {
        "InstanceCount": 2,
        "InstanceType": "ml.g5.xlarge",
    }
    assert training_arguments(templates["dev"])["ResourceConfig"]["VolumeSizeInGB"] == 30


@pytest.mark.parametrize("stage", STAGES)
def test_the_pipeline_waits_for_the_roles_policies_and_the_group(
    stage: str, templates: dict[str, dict[str, Any]]
) -> None:
    """A first execution must not start before PassRole, the S3/KMS grants and the model package group exist:
    the pipeline references the roles (GetAtt) but not their policies, so only DependsOn orders them."""
    resources = templates[stage]["Resources"]
    (pipeline,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    policies = {logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::IAM::Policy"}
    role_policies = {p for p in policies if p.startswith(("TrainingRoleDefaultPolicy", "PipelineRoleDefaultPolicy"))}
    assert len(role_policies) == 2
    groups = {logical_id for logical_id, r in resources.items() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"}
    assert role_policies | groups <= set(pipeline["DependsOn"])
