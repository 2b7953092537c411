"""`cdk synth` on a bad cdk.json: non-zero exit, a message naming the field, no traceback.

Each case runs ``app.main`` in-process (it reads ``./cdk.json`` as the CDK CLI runs it); one case
also goes through the real CDK CLI, to show the message reaches the user that way.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import app as app_module
from tests.conftest import PROJECT_ROOT, offline_env


def write_cdk_json(tmp_path: Path, stages: Any, **extra: Any) -> None:
    config = json.loads((PROJECT_ROOT / "cdk.json").read_text())
    config["app"] = f"{PROJECT_ROOT / '.venv' / 'bin' / 'python'} {PROJECT_ROOT / 'app.py'}"
    config["context"]["stages"] = stages
    config.update(extra)
    (tmp_path / "cdk.json").write_text(json.dumps(config))


def synth_with(tmp_path: Path, stages: Any, **extra: Any) -> subprocess.CompletedProcess[str]:
    write_cdk_json(tmp_path, stages, **extra)
    return subprocess.run(
        ["cdk", "synth", "--quiet", "--no-notices", "--output", str(tmp_path / "cdk.out")],
        cwd=tmp_path,
        env=offline_env(HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


Case = tuple[Any, dict[str, Any], str]
"""``context.stages``, extra top-level keys, and the text the message must contain."""


@pytest.mark.parametrize(
    "case",
    [
        ({"dev": {"region": "us-east-1", "account": "12"}}, {}, "cdk.json: context.stages.dev.account"),
        ({"dev": {"region": "mars-1"}}, {}, "cdk.json: context.stages.dev.region: 'mars-1' is not a known AWS region"),
        ({"dev": {"region": "us-east-1", "model": {"instance_count": 0}}}, {}, "model.instance_count"),
        ({"dev": {"region": "us-east-1", "modle": {}}}, {}, "context.stages.dev.modle: unknown key"),
        ({"dev": {"region": "us-east-1"}}, {"contxt": {}}, "cdk.json: contxt: unknown top-level key"),
    ],
    ids=lambda case: case[2],
)
def test_bad_cdk_json_fails_with_a_named_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: Case
) -> None:
    stages, extra, expected = case
    write_cdk_json(tmp_path, stages, **extra)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        app_module.main()
    assert exited.value.code == 1
    stderr = capsys.readouterr().err
    assert stderr.startswith("Invalid configuration:\n") and expected in stderr


@pytest.mark.slow
def test_the_cdk_cli_shows_the_message_without_a_traceback(tmp_path: Path) -> None:
    result = synth_with(tmp_path, {"dev": {"region": "mars-1"}})
    assert result.returncode != 0
    assert "cdk.json: context.stages.dev.region: 'mars-1' is not a known AWS region" in result.stderr
    assert "Invalid configuration" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
