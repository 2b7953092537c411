"""checkov (CloudFormation, offline): no failed check on any template; every skip justified in metadata.

One checkov run (it takes several seconds to start) covers every stage template plus a deliberately
broken one, which shows the check can fail; its results are kept apart from the stages'.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.automation.deployment import FUNCTION_CHECKOV_SKIPS
from constructs_lib.compliance import MIN_REASON_LENGTH
from tests.conftest import PROJECT_ROOT, STAGES, offline_env
from tests.security.conftest import EXTRA_STAGES, BuiltApp

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
BROKEN_TEMPLATE = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}}}}
"""A bucket with no public access block, versioning or access logging."""


@pytest.fixture(scope="session")
def checkov_templates(synthesized_outdir: Path, built: BuiltApp) -> dict[str, Path]:
    """Stage -> template: the CLI-synthesized stages plus the extra stages."""
    templates = {stage: synthesized_outdir / f"SageMakerTraining-{stage}.template.json" for stage in STAGES}
    templates.update({stage: built.template_path(stage) for stage in EXTRA_STAGES})
    return templates


@pytest.fixture(scope="session")
def broken_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checkov-broken") / "broken.template.json"
    path.write_text(json.dumps(BROKEN_TEMPLATE))
    return path


@pytest.fixture(scope="session")
def checkov_run(
    checkov_templates: dict[str, Path], broken_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One checkov run over every stage template and the broken one."""
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} missing: run `make tools` (checkov lives in its own venv)")
    files = [arg for path in (*checkov_templates.values(), broken_template) for arg in ("-f", str(path))]
    home = tmp_path_factory.mktemp("checkov-home")
    result = subprocess.run(
        [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "-o", "json", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=offline_env(HOME=str(home), BC_SKIP_MAPPING="TRUE"),
    )
    assert result.returncode in (0, 1), f"checkov crashed (rc {result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert [r["check_type"] for r in reports] == ["cloudformation"]
    return dict(reports[0])


def _results_for(run: dict[str, Any], keep: Any) -> dict[str, Any]:
    results = {
        kind: [c for c in checks if keep(Path(c["file_abs_path"]).name)] for kind, checks in run["results"].items()
    }
    return {**run, "results": results}


@pytest.fixture(scope="session")
def checkov_report(checkov_run: dict[str, Any], broken_template: Path) -> dict[str, Any]:
    """The run's results on the stage templates."""
    return _results_for(checkov_run, lambda name: name != broken_template.name)


def test_checkov_fails_a_broken_template(checkov_run: dict[str, Any], broken_template: Path) -> None:
    """The check can fail: an open, unversioned, unlogged bucket is reported."""
    failed = {
        c["check_id"]
        for c in _results_for(checkov_run, lambda name: name == broken_template.name)["results"]["failed_checks"]
    }
    assert {"CKV_AWS_18", "CKV_AWS_21", "CKV_AWS_53"} <= failed  # access logging, versioning, public access block


def test_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    failed = checkov_report["results"]["failed_checks"]
    described = "\n".join(f"  {f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}" for f in failed)
    assert failed == [], f"checkov failed checks:\n{described}"
    assert checkov_report["summary"]["parsing_errors"] == 0


def test_every_template_was_checked(checkov_report: dict[str, Any], checkov_templates: dict[str, Path]) -> None:
    assert checkov_report["summary"]["passed"] > 0
    checked = {Path(check["file_abs_path"]).name for check in checkov_report["results"]["passed_checks"]}
    assert checked == {path.name for path in checkov_templates.values()}


def test_every_skip_is_justified_in_resource_metadata(
    checkov_report: dict[str, Any], checkov_templates: dict[str, Path]
) -> None:
    by_name = {path.name: json.loads(path.read_text()) for path in checkov_templates.values()}
    skipped = checkov_report["results"]["skipped_checks"]
    assert skipped, "expected the access-log bucket's CKV_AWS_18 skip"
    for check in skipped:
        logical_id = check["resource"].split(".", 1)[1]
        resource = by_name[Path(check["file_abs_path"]).name]["Resources"][logical_id]
        reasons = {s["id"]: s["comment"] for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}
        assert check["check_id"] in reasons, f"{check['check_id']} on {logical_id}: skipped without metadata"
        assert len(reasons[check["check_id"]]) >= MIN_REASON_LENGTH


EXPECTED_SKIPS = {
    "AWS::S3::Bucket.StorageLogBucket": {"CKV_AWS_18"},
    # CDK's auto-delete handler (destroy stages) and the code-bundle copy function
    "AWS::Lambda::Function.CustomS3AutoDeleteObjects": {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"},
    "AWS::Lambda::Function.CodeCopyFunction": {
        "CKV_AWS_115",
        "CKV_AWS_116",
        "CKV_AWS_117",
        "CKV_AWS_173",
    },
    "AWS::Logs::LogGroup.CodeCopyFunctionLogs": {"CKV_AWS_158"},
    "AWS::Lambda::Function.DeploymentDeployer": set(FUNCTION_CHECKOV_SKIPS),
}
"""Resource (logical id prefix) -> the only checks skipped on it, each with its reason in the template."""


def test_only_expected_resources_are_skipped(checkov_report: dict[str, Any]) -> None:
    """Skips stay on the log bucket, CDK's auto-delete handler of a destroy stage, the code-copy function, and the
    deployer function's VPC and reserved-concurrency checks (reasons in ``constructs_lib/automation/deployment.py``)."""
    skipped = {
        (Path(c["file_abs_path"]).name, c["resource"], c["check_id"])
        for c in checkov_report["results"]["skipped_checks"]
    }
    for name, resource, check_id in skipped:
        allowed = [checks for prefix, checks in EXPECTED_SKIPS.items() if resource.startswith(prefix)]
        assert allowed and check_id in allowed[0], (name, resource, check_id)
        if resource.startswith("AWS::Lambda::Function.CustomS3AutoDeleteObjects"):
            assert name == "SageMakerTraining-destroy.template.json", (name, resource, check_id)
