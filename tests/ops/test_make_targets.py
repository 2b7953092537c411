"""The Makefile's operator targets call the CLI with the stage and the operator's variables.

``make -n`` prints each recipe without running it; the values travel in the environment
(``"$VERSION"``, ``"$REASON"``), so quotes and spaces in a reason reach the CLI unchanged.
"""

from __future__ import annotations

import subprocess

import pytest

from ops import cli
from ops.stages import PROJECT_ROOT


def make(*args: str) -> str:
    """What ``make`` prints, run on the project's Makefile."""
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout


def dry_run(*args: str) -> list[str]:
    """The recipe lines ``make -n`` prints for the target, without its dependencies' recipes."""
    return [line for line in make("-n", *args).splitlines() if "ops.cli" in line or line.startswith("cdk ")]


@pytest.mark.parametrize("target", ["deploy", "bootstrap"])
def test_deploy_and_bootstrap_check_credentials_first(target: str) -> None:
    check, cdk = dry_run(target, "STAGE=prod")
    assert check.endswith("-m ops.cli check-credentials --stage prod")
    assert cdk.startswith(f"cdk {target} -c stage=prod")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["start-pipeline", "STAGE=prod"], '-m ops.cli start --stage prod --params "$PARAMS"'),
        (["start-pipeline", "FOLLOW=1"], '--params "$PARAMS" --follow'),
        (["follow", "EXECUTION=arn:x"], '-m ops.cli follow --stage dev --execution "$EXECUTION"'),
        (["models", "STAGE=prod"], "-m ops.cli models --stage prod"),
        (["approve", "VERSION=3"], '-m ops.cli approve --stage dev --version "$VERSION" --reason "$REASON"'),
        (["reject", "VERSION=3"], '-m ops.cli reject --stage dev --version "$VERSION" --reason "$REASON"'),
        (["upload-data", "FROM=exports"], '-m ops.cli upload-data --stage dev --from-dir "$FROM"'),
        (["upload-sample-data", "STAGE=prod"], "upload-data --stage prod --from-dir local_data --sample-data"),
        (["train-local", "STAGE=prod"], "train-local --stage prod --data-dir local_data --output-dir local_output"),
        (["train-local", "RESUME=1"], "--sample-data --resume"),
    ],
)
def test_operator_targets_pass_stage_and_variables(args: list[str], expected: str) -> None:
    (line,) = dry_run(*args)
    assert expected in line
    assert ("--resume" in line) == ("RESUME=1" in args)
    assert ("--follow" in line) == ("FOLLOW=1" in args)


def test_make_passes_a_quoted_reason_through_the_environment() -> None:
    reason = 'it\'s "worse" on the holdout; see #42'
    assert "it's" not in make("-n", "reject", "VERSION=3", f"REASON={reason}")  # never spliced into the shell line
    probe = 'probe: ; @printf %s "$$REASON"'  # ... but exported to it: a target added to the real Makefile
    assert make("--eval", probe, "probe", f"REASON={reason}") == reason


@pytest.mark.parametrize("version", ["x", "0", ""])
def test_a_bad_version_is_one_usage_line(capsys: pytest.CaptureFixture[str], version: str) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["approve", "--stage", "dev", "--version", version])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: ops.cli approve: argument --version: VERSION must be a version number such as 3 (got {version!r}) "
        "(see --help)\n"
    )


def test_an_unknown_stage_names_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "--stage", "staging"]) == 2
    assert capsys.readouterr().err == "error: invalid configuration: stage 'staging': unknown stage; valid: dev, prod\n"
