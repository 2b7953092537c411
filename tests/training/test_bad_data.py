"""Bad data and bad hyperparameters: exit non-zero with one line naming the problem, on stderr and in
the failure file. NaN, inf and nulls are tried in every channel, not only train.

Most cases call ``train.main`` in-process (fast); one runs the script to check the real exit code.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from trainer_harness import job_env, run_in_process, run_trainer

ARGS = ["--epochs", "1", "--dry-run"]


def _copy(dataset_dir: Path, root: Path) -> Path:
    data = root / "data"
    shutil.copytree(dataset_dir, data)
    return data


def _rewrite(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def _set_column(table: pa.Table, name: str, values: object) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values))


def _missing_channel(data: Path) -> None:
    shutil.rmtree(data / "val")


def _no_parquet(data: Path) -> None:
    (data / "val" / "val.parquet").rename(data / "val" / "val.csv")


def _empty_file(data: Path) -> None:
    _rewrite(data / "train" / "train.parquet", lambda table: table.slice(0, 0))


def _unreadable_file(data: Path) -> None:
    (data / "train" / "nested" / "deeper").mkdir(parents=True)
    (data / "train" / "nested" / "deeper" / "broken.parquet").write_bytes(b"not parquet at all")


def _label_missing(data: Path) -> None:
    _rewrite(data / "test" / "test.parquet", lambda table: table.drop_columns(["label"]))


def _label_not_binary(data: Path) -> None:
    _rewrite(data / "val" / "val.parquet", lambda t: _set_column(t, "label", np.arange(t.num_rows) % 3))


def _poison(path: Path, column: str, rows: list[int], value: float | None) -> None:
    """Set feature values (NaN, inf or null) in some rows of a parquet file."""

    def change(table: pa.Table) -> pa.Table:
        values: list[float | None] = table.column(column).to_pylist()
        for row in rows:
            values[row] = value
        return _set_column(table, column, pa.array(values, type=pa.float64()))

    _rewrite(path, change)


def _bad_value(channel: str, column: str, rows: list[int], value: float | None) -> Callable[[Path], None]:
    return lambda data: _poison(data / channel / f"{channel}.parquet", column, rows, value)


def _one_class(channel: str, value: int) -> Callable[[Path], None]:
    path = f"{channel}/{channel}.parquet"
    return lambda data: _rewrite(data / path, lambda t: _set_column(t, "label", np.full(t.num_rows, value)))


def _feature_sets_differ(data: Path) -> None:
    _rewrite(data / "val" / "val.parquet", lambda table: table.append_column("extra", pa.array([1.0] * table.num_rows)))


Case = tuple[str, Callable[[Path], None] | None, list[str], list[str]]

CASES: list[Case] = [
    ("missing channel", _missing_channel, [], ["channel val", "missing required channel"]),
    ("no parquet files", _no_parquet, [], ["channel val", "no .parquet files"]),
    ("empty channel", _empty_file, [], ["channel train: no rows", "1 .parquet file(s)", "are empty"]),
    ("unreadable file", _unreadable_file, [], ["channel train", "broken.parquet", "not a readable parquet file"]),
    ("label missing", _label_missing, [], ["channel test", "label column 'label' missing", "test.parquet"]),
    ("label not binary", _label_not_binary, [], ["channel val", "must be binary 0/1", "found value 2"]),
    *[
        (f"{name} in {channel}", _bad_value(channel, column, rows, value), [], [f"channel {channel}", *expected])
        for channel in ("train", "val", "test")
        for name, column, rows, value, expected in (
            ("nan", "f2", [7], np.nan, [f"{channel}.parquet", "NaN or infinite", "['f2']"]),
            ("inf", "f4", [0], -np.inf, [f"{channel}.parquet", "NaN or infinite", "['f4']"]),
            ("nulls", "f1", [1, 5, 9], None, ["feature column 'f1' has 3 null value(s)", f"{channel}.parquet"]),
        )
    ],
    ("feature sets differ", _feature_sets_differ, [], ["channel val", "feature set differs", "extra"]),
    # AUROC is undefined with one class: reported as such, never as 0.0, so no gate compares it with a threshold
    ("one class in test", _one_class("test", 0), [], ["channel test: all 450 rows have label 0", "undefined"]),
    ("one class in val", _one_class("val", 1), [], ["channel val: all 450 rows have label 1", "quality gate"]),
    (
        "unknown feature column",
        None,
        ["--feature_columns", '["f0","nope"]'],
        ["unknown column 'nope'", "channel train"],
    ),
    ("non-numeric feature", None, ["--feature_columns", '["category"]'], ["'category'", "not numeric"]),
    ("bad hyperparameter type", None, ["--batch_size", "big"], ["batch_size", "'big'"]),
    ("hyperparameter out of range", None, ["--dropout", "1.0"], ["dropout", "must be < 1.0"]),
    ("unknown hyperparameter", None, ["--learning-rate", "0.1"], ["unrecognized arguments", "--learning-rate"]),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_bad_input_fails_with_one_line(
    case: Case,
    tmp_path: Path,
    dataset_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, breaker, extra, expected = case
    data = _copy(dataset_dir, tmp_path)
    if breaker:
        breaker(data)
    assert run_in_process([*ARGS, *extra], job_env(tmp_path / "job", data), monkeypatch) == 1, name
    stderr = capsys.readouterr().err
    error_lines = [line for line in stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(error_lines) == 1 and "Traceback" not in stderr, stderr
    reason = error_lines[0].removeprefix("ERROR: ")
    for fragment in expected:
        assert fragment in reason, (fragment, reason)
    assert (tmp_path / "job" / "output" / "failure").read_text() == reason + "\n"
    assert not (tmp_path / "job" / "model" / "model.pt").exists()


@pytest.mark.slow
def test_bad_data_subprocess_exit_code(tmp_path: Path, dataset_dir: Path) -> None:
    data = _copy(dataset_dir, tmp_path)
    _label_not_binary(data)
    result = run_trainer(ARGS, job_env(tmp_path / "job", data))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("ERROR: channel val"), result.stderr
    assert (tmp_path / "job" / "output" / "failure").read_text().startswith("channel val")


@pytest.mark.slow
def test_bad_values_in_another_ranks_share_are_the_reported_reason(tmp_path: Path, dataset_dir: Path) -> None:
    """Under torchrun each rank checks only its own rows. NaN in val's last row (rank 1's share) must
    stop every rank with that reason; before, rank 1 exited alone, rank 0 failed in its next collective
    ("Connection closed by peer") and wrote that to the failure file, SageMaker's FailureReason."""
    data = _copy(dataset_dir, tmp_path)
    val_rows = pq.read_metadata(data / "val" / "val.parquet").num_rows
    _poison(data / "val" / "val.parquet", "f2", [val_rows - 1], np.nan)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = run_trainer(ARGS, job_env(tmp_path / "job", data), launcher=launcher)
    assert result.returncode != 0
    reason = (tmp_path / "job" / "output" / "failure").read_text()
    assert reason.startswith("channel val: file ") and "NaN or infinite values in feature column(s) ['f2']" in reason
    assert "(in rank 1's share of the rows)" in reason and reason.count("\n") == 1, reason
    assert "Connection closed" not in result.stderr, result.stderr[-2000:]
