"""The CDK CLI run directly behaves like ``make synth``: pinned Node for jsii, every feature flag configured."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

CDK_CLI = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"


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


BARE_APP = "import aws_cdk as cdk\napp = cdk.App()\ncdk.Stack(app, 'Bare')\napp.synth()\n"
"""A one-stack app: the CLI counts unconfigured flags from the feature-flag report that any app's
synth writes into the cloud assembly, so this app is enough and far cheaper than the real one."""


def test_unconfigured_flags_are_reported_without_them(tmp_path: Path) -> None:
    """Negative case: with a cdk.json that sets no flag, the same CLI prints the warning."""
    (tmp_path / "bare_app.py").write_text(BARE_APP)
    app = f"{PROJECT_ROOT / '.venv' / 'bin' / 'python'} bare_app.py"
    (tmp_path / "cdk.json").write_text(json.dumps({"app": app, "context": {}}))
    result = subprocess.run(
        [str(CDK_CLI), "synth", "--quiet", "--no-notices"],
        cwd=tmp_path,
        env={"PATH": f"{PROJECT_ROOT / 'node_modules' / '.bin'}:/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "feature flags are not configured" in result.stdout + result.stderr
