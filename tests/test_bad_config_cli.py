"""`cdk synth` on a bad cdk.json: non-zero exit, a message naming the field, no traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, offline_env


def synth_with(tmp_path: Path, stages: Any, **extra: Any) -> subprocess.CompletedProcess[str]:
    config = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    config["app"] = f"{PROJECT_ROOT / '.venv' / 'bin' / 'python'} {PROJECT_ROOT / 'app.py'}"
    config["context"]["stages"] = stages
    config.update(extra)
    (tmp_path / "cdk.json").write_text(json.dumps(config))
    return subprocess.run(
        ["cdk", "synth", "--quiet", "--no-notices", "--output", str(tmp_path / "cdk.out")],
        cwd=tmp_path,
        env=offline_env(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("stages", "extra", "expected"),
    [
        ({"dev": {"region": "us-east-1", "account": "12"}}, {}, "cdk.json: context.stages.dev.account"),
        ({"dev": {"region": "mars-1"}}, {}, "cdk.json: context.stages.dev.region: 'mars-1' is not a known AWS region"),
        ({"dev": {"region": "us-east-1", "model": {"instance_count": 0}}}, {}, "model.instance_count"),
        ({"dev": {"region": "us-east-1", "modle": {}}}, {}, "context.stages.dev.modle: unknown key"),
        ({"dev": {"region": "us-east-1"}}, {"contxt": {}}, "cdk.json: contxt: unknown top-level key"),
    ],
)
def test_bad_cdk_json_fails_with_a_named_field(
    tmp_path: Path, stages: Any, extra: dict[str, Any], expected: str
) -> None:
    result = synth_with(tmp_path, stages, **extra)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Invalid configuration" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
