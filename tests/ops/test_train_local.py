"""``make train-local``: the chosen stage's hyperparameters, a fresh start unless RESUME=1, the sample once."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.config.stage_config import parse_stage
from ops import cli
from ops.aws import OperatorError
from ops.train_local import SAMPLE_GENERATOR, ensure_sample_data, train_locally
from tests.ops.conftest import sample_dir, write_parquet

PROD = parse_stage("prod", {"region": "eu-west-1", "hyperparameters": {"epochs": 20, "learning_rate": 0.01}})


class Recorder:
    """Stands in for ``subprocess.run``: records each command and its environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, command: list[str], env: dict[str, str] | None = None, **_: Any) -> Any:
        self.calls.append((command, env or {}))
        return subprocess.CompletedProcess(command, 0)


def test_a_rerun_starts_fresh_unless_resume(tmp_path: Path) -> None:
    """The trainer's ``--fresh`` sets earlier checkpoints aside (tests/training/test_resume.py runs it)."""
    for resume in (False, True):
        run, out = Recorder(), io.StringIO()
        assert train_locally(PROD, tmp_path / "data", tmp_path / "out", resume, out, run=run) == 0
        ((command, _env),) = run.calls
        assert ("--fresh" in command) is not resume
        assert ("RESUME=1: continuing" in out.getvalue()) is resume


def test_only_the_declared_channels_reach_the_trainer(tmp_path: Path) -> None:
    """A stage without a test channel gates on the selected val AUROC in AWS; locally too."""
    stage = PROD.model_copy(update={"channels": ["train", "val"]})
    run = Recorder()
    assert train_locally(stage, tmp_path / "data", tmp_path / "out", False, io.StringIO(), run=run) == 0
    ((_command, env),) = run.calls
    assert "SM_CHANNEL_VAL" in env and "SM_CHANNEL_TEST" not in env


def test_the_chosen_stage_hyperparameters_reach_the_trainer(tmp_path: Path) -> None:
    run, out = Recorder(), io.StringIO()
    assert train_locally(PROD, tmp_path / "data", tmp_path / "out", False, out, run=run) == 0
    ((command, env),) = run.calls
    assert command[command.index("--epochs") + 1] == "20"
    assert command[command.index("--learning_rate") + 1] == "0.01"
    assert env["CHECKPOINT_DIR"] == str(tmp_path / "out" / "checkpoints")
    assert env["SM_CHANNEL_VAL"] == str(tmp_path / "data" / "val")
    assert "stage prod: its hyperparameters, in 1 local process" in out.getvalue()


def test_the_cli_reads_the_named_stage(capsys: pytest.CaptureFixture[str]) -> None:
    """``STAGE`` used to be ignored (dev always); ``make train-local STAGE=prod`` passes it (test_make_targets)."""
    assert cli.main(["train-args", "--stage", "prod"]) == 0
    assert "--epochs 20" in capsys.readouterr().out


def test_the_sample_is_generated_when_absent_and_reused_after(tmp_path: Path) -> None:
    data, out = tmp_path / "local_data", io.StringIO()
    ensure_sample_data(data, out)  # the real generator, once
    assert sorted(p.relative_to(data).as_posix() for p in data.rglob("*.parquet")) == [
        "test/test.parquet",
        "train/train.parquet",
        "val/val.parquet",
    ]
    run = Recorder()
    ensure_sample_data(data, out, run=run)
    assert run.calls == []
    assert out.getvalue().splitlines()[0] == f"generating the synthetic sample dataset in {data}/"
    assert (
        out.getvalue().splitlines()[-1]
        == f"using the data in {data}/ (train, val, test); delete it to regenerate the sample"
    )


def test_own_partial_data_is_never_overwritten(tmp_path: Path) -> None:
    write_parquet(tmp_path / "train" / "mine.parquet")
    run = Recorder()
    with pytest.raises(OperatorError, match="has train but no val data; add it, or delete"):
        ensure_sample_data(tmp_path, io.StringIO(), run=run)
    assert run.calls == []
    sample_dir(tmp_path / "fresh", ("train", "val"))
    ensure_sample_data(tmp_path / "fresh", io.StringIO(), run=run)  # the test channel is optional
    assert run.calls == []


def test_generation_failure_is_reported(tmp_path: Path) -> None:
    def failing(command: list[str], **_: Any) -> Any:
        assert command[1] == str(SAMPLE_GENERATOR)
        return subprocess.CompletedProcess(command, 3)

    with pytest.raises(OperatorError, match=r"generating the sample dataset failed \(exit 3\)"):
        ensure_sample_data(tmp_path / "data", io.StringIO(), run=failing)
