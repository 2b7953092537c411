"""The CDK CLI run directly behaves like ``make synth``: pinned Node for jsii, every feature flag configured."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

CDK_CLI = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
APP_REQUIRED_FLAGS = ("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",)
"""Without it, S3 access logging to the log bucket needs ACLs, which the buckets' object ownership forbids."""


@pytest.fixture(scope="module")
def direct_synth(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """``node_modules/.bin/cdk synth`` with a PATH that holds neither the venv nor the pinned Node."""
    root = tmp_path_factory.mktemp("direct")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(root)}
    return subprocess.run(
        [str(CDK_CLI), "synth", "--quiet", "--no-notices", "-c", "stage=dev", "--output", str(root / "cdk.out")],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_direct_cli_synth_succeeds_without_the_jsii_node_banner(direct_synth: subprocess.CompletedProcess[str]) -> None:
    assert direct_synth.returncode == 0, direct_synth.stderr
    output = direct_synth.stdout + direct_synth.stderr
    # jsii prints its Node support banner (as Python bytes literals, b'!!  ...') when it runs on an
    # unsupported Node; app.py points it at node_modules/.bin/node through JSII_NODE.
    assert "b'!!" not in output and "end-of-life" not in output, output[-2000:]


def test_every_recommended_feature_flag_is_configured(direct_synth: subprocess.CompletedProcess[str]) -> None:
    """The CLI counts flags that `cdk init` would set but cdk.json lacks, and says so on every synth."""
    assert direct_synth.returncode == 0, direct_synth.stderr
    assert "feature flags are not configured" not in direct_synth.stdout + direct_synth.stderr


def test_unconfigured_flags_are_reported_without_them(tmp_path: Path) -> None:
    """Negative case: with only the stages and the flags the app needs, the same CLI prints the warning."""
    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    kept = {key: context[key] for key in ("stages", *APP_REQUIRED_FLAGS)}
    bare = {"app": f"{PROJECT_ROOT / '.venv' / 'bin' / 'python'} {PROJECT_ROOT / 'app.py'}", "context": kept}
    workdir = tmp_path / "bare"
    workdir.mkdir()
    (workdir / "cdk.json").write_text(json.dumps(bare))
    result = subprocess.run(
        [str(CDK_CLI), "synth", "--quiet", "--no-notices", "-c", "stage=dev", "--output", str(tmp_path / "out")],
        cwd=workdir,
        env={"PATH": f"{PROJECT_ROOT / 'node_modules' / '.bin'}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "feature flags are not configured" in result.stdout + result.stderr
