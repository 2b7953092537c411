"""The Makefile's operator targets call the CLI with the stage and the operator's variables.

``make -n`` prints each recipe without running it; the values travel in the environment
(``"$VERSION"``, ``"$REASON"``), so quotes and spaces in a reason reach the CLI unchanged.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

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


@pytest.mark.parametrize(
    ("target", "cdk_command"), [("bootstrap", "cdk bootstrap -c stage=prod"), ("diff", "cdk diff -c stage=prod")]
)
def test_bootstrap_and_diff_check_credentials_first(target: str, cdk_command: str) -> None:
    check, cdk = dry_run(target, "STAGE=prod")
    assert check.endswith("-m ops.cli check-credentials --stage prod")
    assert cdk.startswith(cdk_command)


def test_deploy_synthesizes_runs_the_doctor_then_deploys_that_assembly() -> None:
    """Synth is the local check (config errors) before any AWS call; the doctor reads the bootstrap
    version the templates need from that assembly, and cdk deploys the same assembly."""
    synth, check, deploy = dry_run("deploy", "STAGE=prod")
    assert synth == "cdk synth --quiet -c stage=prod"
    assert check.endswith("-m ops.cli doctor --stage prod --for deploy")
    assert deploy == "cdk deploy --app cdk.out --require-approval broadening SageMakerTraining-prod"


def test_make_doctor_synthesizes_then_runs_every_check() -> None:
    synth, check = dry_run("doctor", "STAGE=prod")
    assert synth == "cdk synth --quiet -c stage=prod"
    assert check.endswith("-m ops.cli doctor --stage prod")


OPERATOR_TARGETS = ("doctor", "bootstrap", "deploy", "diff", "upload-sample-data", "upload-data")
OPERATOR_TARGETS += ("start-pipeline", "follow", "models", "approve", "reject")


def recipes() -> dict[str, list[str]]:
    """Target -> its recipe lines, read from the Makefile."""
    found: dict[str, list[str]] = {}
    target = ""
    for line in (PROJECT_ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"^([a-z][a-z-]*):", line)
        if match:
            target = match.group(1)
            found[target] = []
        elif line.startswith("\t") and target:
            found[target].append(line)
    return found


def test_operator_recipes_are_not_echoed() -> None:
    """make prints a recipe line before running it unless it starts with @; the CLI's one line is the error."""
    found = recipes()
    for target in OPERATOR_TARGETS:
        assert found[target], target
        assert all(line.startswith("\t@") for line in found[target]), target


def test_an_operator_error_through_make_is_the_clis_one_line() -> None:
    """The real target: the command is not echoed; after the CLI's line comes only make's own status line."""
    result = subprocess.run(
        ["make", "--no-print-directory", "follow", "STAGE=dev", "EXECUTION=a1b2c3d4e5f6"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    # make's own status line: "make: ***", or "make[1]: ***" when this test itself runs under make test
    cli_lines = [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert cli_lines == [
        "error: stage dev: EXECUTION='a1b2c3d4e5f6' is not a pipeline execution ARN "
        "(arn:aws:sagemaker:...:pipeline/...)"
    ]


def test_upload_targets_install_only_what_they_use() -> None:
    """boto3 comes with the runtime venv; pyarrow reads the files, numpy makes the sample. Not torch or the toolkits."""
    assert re.search(r"^upload-data: ops-deps ##", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert re.search(r"^upload-sample-data: ops-deps ##", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE)
    pins = pinned(PROJECT_ROOT / "requirements-ops.txt")
    assert set(pins) == {"pyarrow", "numpy"}
    dev = pinned(PROJECT_ROOT / "requirements-dev.txt")
    assert {name: dev[name] for name in pins} == pins, "requirements-ops.txt pins what requirements-dev.txt pins"


def pinned(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.split("==", 1) for line in lines if "==" in line)


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
