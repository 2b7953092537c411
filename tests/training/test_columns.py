"""Exports as they come: decimal money columns are features, converted exactly; string, timestamp,
categorical and binary columns are excluded and listed, never dropped silently; ``exclude_columns``;
int64 columns keep their precision through standardization.

Athena writes DECIMAL as parquet ``decimal`` ("DECIMAL(precision, scale)", Data types in Amazon Athena,
https://docs.aws.amazon.com/athena/latest/ug/data-types.html), which pyarrow reads as ``decimal128``.
"""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from channel_files import DataError
from data import load_planned, plan_data
from decode import decimal_to_float64
from exports import athena_table
from model import Standardizer
from trainer_harness import job_env, run_in_process


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("athena")
    for seed, (channel, rows) in enumerate((("train", 1200), ("val", 400), ("test", 400))):
        (root / channel).mkdir()
        pq.write_table(athena_table(rows, seed), root / channel / "part-0.parquet", row_group_size=500)
    return root


def _point(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    for channel in ("train", "val", "test"):
        monkeypatch.setenv(f"SM_CHANNEL_{channel.upper()}", str(root / channel))


def test_decimals_convert_to_the_nearest_float() -> None:
    rng = np.random.default_rng(1)
    values = [decimal.Decimal(int(v)).scaleb(-2) for v in rng.integers(-(10**15), 10**15, 20_000)]
    values += [decimal.Decimal("0.07"), decimal.Decimal("-0.01"), decimal.Decimal("99999999999999999.99")]
    array = pa.array(values, type=pa.decimal128(20, 2))
    exact = np.array([float(value) for value in values])  # Python rounds Decimal -> float correctly
    np.testing.assert_array_equal(decimal_to_float64(array), exact)
    np.testing.assert_array_equal(decimal_to_float64(array.slice(5, 100)), exact[5:105])  # offsets honoured
    assert (pa.compute.cast(array, pa.float64()).to_numpy() != exact).any(), "Arrow's cast is not exact"
    wide = pa.array(values[:50], type=pa.decimal256(40, 2))
    np.testing.assert_array_equal(decimal_to_float64(wide), exact[:50])


def test_decimal_and_int64_are_features_and_every_other_column_is_listed(
    export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _point(monkeypatch, export)
    plan = plan_data("label", [])
    assert plan.features == ["amount", "event_ms", "x"]
    assert [(c.name, c.type, c.reason) for c in plan.excluded] == [
        ("customer", "string", "not numeric"),
        ("created", "timestamp[us]", "not numeric"),
        ("segment", "dictionary<values=string, indices=int32, ordered=0>", "not numeric"),
        ("blob", "binary", "not numeric"),
    ]
    assert plan.feature_types() == {"amount": "decimal128(18, 2)", "event_ms": "int64", "x": "double"}
    train = load_planned(plan)["train"]
    raw = pq.read_table(export / "train")
    amounts = np.array([float(value) for value in raw.column("amount").to_pylist()])
    restored = train.features[:, 0].astype(np.float64) + plan.offsets[0]
    np.testing.assert_allclose(restored, amounts, rtol=1e-6)


def test_int64_keeps_its_precision_through_standardization(export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """200 distinct epoch-ms values: float32 of the raw values holds about 2 of them; standardized, all 200."""
    _point(monkeypatch, export)
    plan = plan_data("label", [])
    stamps = pq.read_table(export / "train").column("event_ms").to_numpy()
    assert len(np.unique(stamps)) == 200 and len(np.unique(stamps.astype(np.float32))) < 10
    train = load_planned(plan)["train"]
    standardizer = Standardizer.fit(train.features, plan.offsets)
    assert standardizer.mean[1] == pytest.approx(stamps.mean(), abs=1e-3)  # float64, not float32's 131 s steps
    standardized = standardizer.transform_inplace(train.features, plan.offsets)[:, 1]
    assert len(np.unique(standardized)) == 200
    np.testing.assert_allclose(standardized, (stamps - stamps.mean()) / stamps.std(), atol=1e-5)
    served = standardizer.transform(np.column_stack([np.zeros(len(stamps)), stamps, np.zeros(len(stamps))]))
    np.testing.assert_allclose(served[:, 1], standardized, atol=1e-5)  # serving standardizes the same way


@pytest.mark.parametrize(
    ("feature_columns", "exclude_columns", "fragment"),
    [
        (["amount", "customer"], [], "feature column 'customer' in file"),
        (["amount", "created"], [], "not numeric, decimal or bool (timestamp[us])"),
        ([], ["nope"], "exclude_columns: no column 'nope' in channel train"),
        ([], ["label"], "exclude_columns: 'label' is the label column"),
        (["amount"], ["amount"], "exclude_columns: 'amount' is also in feature_columns"),
    ],
)
def test_column_settings_that_cannot_work_name_the_column(
    export: Path, monkeypatch: pytest.MonkeyPatch, feature_columns: list[str], exclude_columns: list[str], fragment: str
) -> None:
    _point(monkeypatch, export)
    with pytest.raises(DataError) as caught:
        plan_data("label", feature_columns, exclude_columns)
    assert fragment in str(caught.value), str(caught.value)


def test_a_run_logs_and_records_the_excluded_columns(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--epochs", "1", "--dry-run", "--exclude_columns", '["x"]']
    assert run_in_process(args, job_env(tmp_path, export), monkeypatch) == 0
    out = capsys.readouterr().out
    assert "2 features ['amount', 'event_ms']" in out
    line = next(line for line in out.splitlines() if line.startswith("excluded column(s): "))
    for fragment in ("'x' (double, exclude_columns)", "'customer' (string, not numeric)", "'blob' (binary"):
        assert fragment in line, line
    meta = json.loads((tmp_path / "model" / "model_meta.json").read_text())
    assert {"name": "created", "type": "timestamp[us]", "reason": "not numeric"} in meta["excluded_columns"]
    assert {"name": "x", "type": "double", "reason": "exclude_columns"} in meta["excluded_columns"]
    assert meta["feature_types"] == {"amount": "decimal128(18, 2)", "event_ms": "int64"}
    stamps = pq.read_table(export / "train").column("event_ms").to_numpy()
    assert meta["standardization"]["mean"][1] == pytest.approx(stamps.mean(), abs=1e-3)
