"""Bad data and bad hyperparameters: exit non-zero with one line naming the problem, on stderr and in
the failure file.

Most cases call ``train.main`` in-process (fast); one runs the script to check the real exit code.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import train
from trainer_harness import job_env, run_trainer

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


def _poison(path: Path, column: str, row: int, value: float) -> None:
    """Set one feature value (NaN or inf) in a parquet file."""

    def change(table: pa.Table) -> pa.Table:
        values = table.column(column).to_numpy().copy()
        values[row] = value
        return _set_column(table, column, values)

    _rewrite(path, change)


def _nan_feature(data: Path) -> None:
    _poison(data / "train" / "train.parquet", "f2", 7, np.nan)


def _inf_feature(data: Path) -> None:
    _poison(data / "test" / "test.parquet", "f4", 0, np.inf)


def _feature_sets_differ(data: Path) -> None:
    _rewrite(data / "val" / "val.parquet", lambda table: table.append_column("extra", pa.array([1.0] * table.num_rows)))


Case = tuple[str, Callable[[Path], None] | None, list[str], list[str]]

CASES: list[Case] = [
    ("missing channel", _missing_channel, [], ["channel val", "missing required channel"]),
    ("no parquet files", _no_parquet, [], ["channel val", "no .parquet files"]),
    ("empty file", _empty_file, [], ["channel train", "train.parquet", "empty (0 rows)"]),
    ("unreadable file", _unreadable_file, [], ["channel train", "broken.parquet", "not a readable parquet file"]),
    ("label missing", _label_missing, [], ["channel test", "label column 'label' missing", "test.parquet"]),
    ("label not binary", _label_not_binary, [], ["channel val", "must be binary 0/1", "found value 2"]),
    ("nan feature", _nan_feature, [], ["channel train", "train.parquet", "NaN", "['f2']"]),
    ("inf feature", _inf_feature, [], ["channel test", "infinite", "['f4']"]),
    ("feature sets differ", _feature_sets_differ, [], ["channel val", "feature set differs", "extra"]),
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
    for key, value in job_env(tmp_path / "job", data).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("WORLD_SIZE", raising=False)

    assert train.main([*ARGS, *extra]) == 1, name
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
