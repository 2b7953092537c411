"""Fixtures of the security proof: the app built in-process with extra stages, and cdk-nag findings.

One temporary ``cdk.json`` holds the real stages plus five that exercise other code paths:
``destroy`` (auto-delete custom resource; registers versions as ``Approved`` by default), ``TeamA``
(capitals in its names), ``vpc``
(ENI permissions; no test channel, so the gate reads the selected validation AUROC), ``spot``
(checkpoints) and ``gpu`` (two GPU instances with an EBS volume, so a volume key, in another region), plus the
automation stages of ``automation_stages.py``.
The app is built twice per session: as configured, and with every cdk-nag acknowledgement
switched off, which shows that each acknowledgement matches a finding cdk-nag really reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

import app as app_module
from constructs_lib.config.cdk_json import read_cdk_json_context
from constructs_lib.config.stage_config import StageConfig, load_stages
from stacks.training_pipeline_stack import TrainingPipelineStack
from tests.conftest import PROJECT_ROOT, STAGES
from tests.security.automation_stages import AUTOMATION_STAGES
from tests.security.cfn_resolver import CfnEnvironment
from tests.security.stack_iam import StackIam, stack_iam

EXTRA_STAGES: dict[str, dict[str, Any]] = {
    "destroy": {
        "region": "us-east-1",
        "storage": {"removal_policy": "destroy", "checkpoint_expiration_days": 3},
        "registry": {"approval_status": "Approved"},
    },
    "vpc": {
        "region": "us-east-1",
        "network": {"subnet_ids": ["subnet-123"], "security_group_ids": ["sg-123"]},
        "channels": ["train", "val"],
    },
    "spot": {"region": "us-east-1", "model": {"use_spot_instances": True, "max_wait": 172800, "max_run": 86400}},
    "gpu": {"region": "us-west-2", "model": {"instance_type": "ml.p3.2xlarge", "instance_count": 2}},
    # Capitals in the stage name, so in the pipeline and model package group names: IAM compares ARNs
    # case-sensitively, and the matrix runs with the names in ARNs both as written and lowercased.
    "TeamA": {"region": "us-east-1"},
    **AUTOMATION_STAGES,
}
ALL_STAGES = (*STAGES, *EXTRA_STAGES)


@dataclass(frozen=True, order=True)
class NagFinding:
    """One finding of cdk-nag 3: ``rule`` is ``RuleId`` or ``RuleId[Finding]``."""

    rule: str
    severity: str
    path: str


def nag_findings(scope: IConstruct) -> list[NagFinding]:
    """Every unacknowledged AwsSolutions finding (errors and warnings) under ``scope``."""
    report = AwsSolutionsChecks().validate_scope(scope)
    return sorted(
        NagFinding(violation.rule_name, violation.severity, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    )


def nag_acknowledgements(scope: IConstruct) -> dict[tuple[str, str], str]:
    """(finding id, construct path) -> reason, for every ``Validations.acknowledge`` under ``scope``."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found: dict[tuple[str, str], str] = {}
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key and entry.data:
                for qualified_id, reason in dict(entry.data).items():
                    rule_id = qualified_id.split("::", 1)[1] if "::" in qualified_id else qualified_id
                    found[(rule_id, construct.node.path)] = reason
    return found


def write_cdk_json(path: Path, extra_stages: dict[str, dict[str, Any]]) -> Path:
    """A copy of the project's ``cdk.json`` with ``extra_stages`` added."""
    document = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    document["context"]["stages"].update(extra_stages)
    path.write_text(json.dumps(document, indent=2))
    return path


@dataclass(frozen=True)
class BuiltApp:
    """An app synthesized in-process, with its stacks by stage name."""

    app: cdk.App
    outdir: Path
    stacks: dict[str, TrainingPipelineStack]

    def template_path(self, stage: str) -> Path:
        return self.outdir / f"SageMakerTraining-{stage}.template.json"

    def template(self, stage: str) -> dict[str, Any]:
        return json.loads(self.template_path(stage).read_text())


def build_app(cdk_json: Path, outdir: Path) -> BuiltApp:
    """Build and synthesize the app of ``cdk_json`` into ``outdir``."""
    app = app_module.create_app(cdk_json, outdir=str(outdir))
    app.synth()
    stacks = {
        child.node.id.removeprefix("SageMakerTraining-"): child
        for child in app.node.children
        if isinstance(child, TrainingPipelineStack)
    }
    return BuiltApp(app, outdir, stacks)


@pytest.fixture(scope="session")
def security_cdk_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cdk.json`` with the project's stages plus ``EXTRA_STAGES``."""
    return write_cdk_json(tmp_path_factory.mktemp("security") / "cdk.json", EXTRA_STAGES)


@pytest.fixture(scope="session")
def stage_configs(security_cdk_json: Path) -> dict[str, StageConfig]:
    """Stage name -> its validated config, as declared (what the rows are checked against)."""
    return {stage.name: stage for stage in load_stages(read_cdk_json_context(security_cdk_json))}


@pytest.fixture(scope="session")
def built(security_cdk_json: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltApp:
    """Every stage, as configured."""
    return build_app(security_cdk_json, tmp_path_factory.mktemp("security-out"))


@pytest.fixture(scope="session")
def built_unacknowledged(security_cdk_json: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltApp:
    """Every stage, built while ``Validations.acknowledge`` records nothing (wherever it is called)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cdk.Validations, "acknowledge", lambda *_args, **_kwargs: None)
        return build_app(security_cdk_json, tmp_path_factory.mktemp("security-raw"))


@pytest.fixture(scope="session")
def stack_models(built: BuiltApp) -> dict[str, StackIam]:
    """Stage -> its roles, policies and pipeline definition, resolved for a fake account in its region."""
    return {
        stage: stack_iam(built.template(stage), CfnEnvironment(stack.region)) for stage, stack in built.stacks.items()
    }
