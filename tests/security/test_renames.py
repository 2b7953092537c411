"""Renaming the pipeline updates the stack: no create-only property of a named resource depends on the name."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import app as app_module
from tests.conftest import PROJECT_ROOT
from tests.security.conftest import write_cdk_json
from tests.security.create_only import create_only_properties, failed_replacements

REGION = "us-east-1"


def stage_template(tmp_path: Path, pipeline_name: str) -> dict[str, Any]:
    """The dev stage of this repository's cdk.json, with ``pipeline_name`` set."""
    folder = tmp_path / pipeline_name
    folder.mkdir()
    dev = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]["stages"]["dev"]
    cdk_json = write_cdk_json(folder / "cdk.json", {"dev": {**dev, "pipeline_name": pipeline_name}})
    app_module.create_app(cdk_json, context={"stage": "dev"}, outdir=str(folder / "cdk.out")).synth()
    return dict(json.loads((folder / "cdk.out" / "SageMakerTraining-dev.template.json").read_text()))


def pipeline_name_of(template: dict[str, Any]) -> str:
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    return str(pipeline["Properties"]["PipelineName"])


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    root = tmp_path_factory.mktemp("rename")
    return stage_template(root, "fraud-training"), stage_template(root, "fraud-training-v2")


def test_the_rename_reaches_the_pipeline(renamed: tuple[dict[str, Any], dict[str, Any]]) -> None:
    names = [
        next(
            r["Properties"]["PipelineName"] for r in t["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"
        )
        for t in renamed
    ]
    assert names == ["fraud-training", "fraud-training-v2"]
    assert "ModelPackageGroupDescription" in create_only_properties("AWS::SageMaker::ModelPackageGroup", REGION)


def test_no_named_resource_must_be_replaced_under_its_old_name(renamed: tuple[dict[str, Any], dict[str, Any]]) -> None:
    before, after = renamed
    assert failed_replacements(before, after, REGION) == []


def test_a_description_holding_the_pipeline_name_is_caught(renamed: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Negative case: the description before this fix named the pipeline; the check finds the group."""
    before, after = (copy.deepcopy(t) for t in renamed)
    for template, name in ((before, "fraud-training"), (after, "fraud-training-v2")):
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
                resource["Properties"]["ModelPackageGroupDescription"] = f"models of pipeline {name} (stage dev)"
    (problem,) = failed_replacements(before, after, REGION)
    assert problem.startswith("ModelRegistryGroup") and "ModelPackageGroupDescription change under a fixed" in problem
