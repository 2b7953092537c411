"""cfn-lint: no error, warning or informational match on any synthesized template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import STAGES, offline_env
from tests.security.conftest import EXTRA_STAGES, BuiltApp

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def cfn_lint(*templates: Path) -> list[dict[str, object]]:
    """cfn-lint's matches (JSON format) for ``templates``."""
    result = subprocess.run(
        [str(CFN_LINT), "--format", "json", *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=offline_env(),
    )
    assert result.returncode in (0, 2, 4, 6, 8, 10, 12, 14), f"cfn-lint crashed:\n{result.stderr}"
    matches: list[dict[str, object]] = json.loads(result.stdout or "[]")
    return matches


def _describe(matches: list[dict[str, object]]) -> str:
    return "\n".join(f"  {m['Rule']['Id']} {m['Filename']}: {m['Message']}" for m in matches)  # type: ignore[index]  # cfn-lint match records are untyped here


def test_cli_synthesized_templates_are_clean(synthesized_outdir: Path) -> None:
    templates = [synthesized_outdir / f"SageMakerTraining-{stage}.template.json" for stage in STAGES]
    matches = cfn_lint(*templates)
    assert matches == [], f"cfn-lint matches:\n{_describe(matches)}"


def test_extra_stage_templates_are_clean(built: BuiltApp) -> None:
    matches = cfn_lint(*(built.template_path(stage) for stage in EXTRA_STAGES))
    assert matches == [], f"cfn-lint matches:\n{_describe(matches)}"


def test_cfn_lint_reports_a_broken_template(tmp_path: Path) -> None:
    """The check can fail: a template with a bad property is reported."""
    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"Nope": 1}}}}))
    assert any(m["Rule"]["Id"].startswith("E") for m in cfn_lint(broken))  # type: ignore[index]  # cfn-lint match records are untyped here
