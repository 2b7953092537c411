"""``make models``, ``make approve``, ``make reject`` against moto's model package registry.

ListModelPackages returns versions of a group; UpdateModelPackage sets ``ModelApprovalStatus`` with an
``ApprovalDescription`` ("UpdateModelPackage", SageMaker API Reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateModelPackage.html). moto answers
DescribeModelPackageGroup for a missing group with ValidationException "ModelPackageGroup <arn> does
not exist.", the real service's code and wording.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from constructs_lib.config.stage_config import parse_stage
from ops import cli
from ops.aws import OperatorError, StageAws
from ops.models import quality_figures, set_approval, show_models
from tests.ops import shapes
from tests.ops.conftest import Deployed, create_stack


def register(deployed: Deployed, figures: dict[str, str]) -> str:
    """One version, as the pipeline's RegisterModel step leaves it."""
    response = deployed.sagemaker.create_model_package(
        ModelPackageGroupName=shapes.GROUP,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=figures,
    )
    return str(response["ModelPackageArn"])


def status_of(deployed: Deployed, version: int) -> dict[str, Any]:
    arn = f"arn:aws:sagemaker:{shapes.REGION}:{shapes.ACCOUNT}:model-package/{shapes.GROUP}/{version}"
    return dict(deployed.sagemaker.describe_model_package(ModelPackageName=arn))


def models_output(deployed: Deployed, limit: int = 20) -> list[str]:
    out = io.StringIO()
    assert show_models(deployed.aws, out, limit) == 0
    return out.getvalue().splitlines()


def test_models_lists_versions_newest_first_with_status_figures_and_time(deployed: Deployed) -> None:
    register(deployed, {"Test AUC ROC": "0.870000"})
    register(deployed, {"Test AUC ROC": "0.912345", "QualityThreshold": "0.7"})
    header, columns, newest, oldest = models_output(deployed)
    assert header == f"model package group {shapes.GROUP} (2 versions)"
    assert columns.split() == ["VERSION", "STATUS", "CREATED", "QUALITY"]
    assert re.fullmatch(
        r" +2  PendingManualApproval  \d{4}-\d\d-\d\d \d\d:\d\d UTC  QualityThreshold=0.7, Test AUC ROC=0.912345",
        newest,
    )
    assert oldest.split()[0] == "1"


def test_models_with_no_versions_and_with_a_limit(deployed: Deployed) -> None:
    assert "has no versions yet: a run that passes the quality gate registers one" in models_output(deployed)[0]
    for _ in range(3):
        register(deployed, {})
    lines = models_output(deployed, limit=2)
    assert [line.split()[0] for line in lines[2:4]] == ["3", "2"]
    assert lines[-1] == "(the newest 2 of 3; LIMIT=0 shows all)"


def test_approve_and_reject_set_the_status_with_the_reason(deployed: Deployed, capsys: Any) -> None:
    register(deployed, {})
    register(deployed, {})
    assert cli.main(["approve", "--stage", "dev", "--version", "1", "--reason", "beats v0 on test AUC"]) == 0
    assert 'version 1: PendingManualApproval -> Approved: "beats v0 on test AUC"' in capsys.readouterr().out
    assert status_of(deployed, 1)["ModelApprovalStatus"] == "Approved"
    assert status_of(deployed, 1)["ApprovalDescription"] == "beats v0 on test AUC"
    assert set_approval(deployed.aws, 2, "Rejected", "it's worse on the holdout", io.StringIO()) == 0
    assert status_of(deployed, 2)["ModelApprovalStatus"] == "Rejected"
    assert status_of(deployed, 2)["ApprovalDescription"] == "it's worse on the holdout"


def test_reject_needs_a_reason_and_changes_nothing_without_one(deployed: Deployed, capsys: Any) -> None:
    register(deployed, {})
    assert cli.main(["reject", "--stage", "dev", "--version", "1", "--reason", "  "]) == 1
    err = capsys.readouterr().err
    assert "a rejection needs a reason" in err
    assert "`make reject STAGE=dev VERSION=1 REASON='...'`" in err
    assert status_of(deployed, 1)["ModelApprovalStatus"] == "PendingManualApproval"


def test_an_unknown_version_lists_the_valid_ones(deployed: Deployed) -> None:
    register(deployed, {})
    register(deployed, {})
    with pytest.raises(OperatorError, match=f"VERSION=7 is not in model package group {shapes.GROUP}; valid: 1, 2"):
        set_approval(deployed.aws, 7, "Approved", "", io.StringIO())


def test_a_missing_group_says_to_deploy(deployed: Deployed) -> None:
    qa = parse_stage("qa", {"region": shapes.REGION})
    create_stack(qa, ModelPackageGroupName="qa-models")
    expected = "model package group qa-models (stack output ModelPackageGroupName) does not exist in us-east-1"
    with pytest.raises(OperatorError, match=re.escape(expected)):
        show_models(StageAws(qa), io.StringIO())


def test_quality_figures_include_model_metrics_reports() -> None:
    package = {
        "CustomerMetadataProperties": {"Test AUC ROC": "0.91"},
        "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://a/m.json"}}},
    }
    assert quality_figures(package) == {"Test AUC ROC": "0.91", "ModelQuality.Statistics": "s3://a/m.json"}
