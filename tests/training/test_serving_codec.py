"""Request decoding in-process: the vectorized paths give exactly what the per-value paths give, bad bodies
still get a 400 naming the row and column, bool features take JSON booleans, reasons stay short, .npy works,
serving standardizes in float64, and each worker uses one torch thread.

``PyTorchPredictor`` (SageMaker Python SDK, ``sagemaker.pytorch.model``) defaults to
``serializer=NumpySerializer()`` and ``deserializer=NumpyDeserializer()``: Content-Type and Accept
``application/x-npy``, bodies written by ``np.save`` and read by ``np.load``.
"""

from __future__ import annotations

import io
import json
import random
from http import HTTPStatus
from pathlib import Path

import numpy as np
import pytest
import request_rows
import torch
from model import MLP, Standardizer
from request_rows import CsvRows, JsonRecords, RequestError
from serving_codec import NPY, decode_request, encode_response

FEATURES = ["f0", "f1", "flag", "ts"]


def _rows(count: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((count, 4))
    values[:, 2] = rng.integers(0, 2, count)
    values[:, 3] = 1_767_225_600_000 + rng.integers(0, 200, count) * 10  # epoch milliseconds
    return values


def _slow_path_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> np.ndarray:
        raise AssertionError("the per-value path ran for a valid body")

    monkeypatch.setattr(CsvRows, "_slow", refuse)
    monkeypatch.setattr(JsonRecords, "_slow", refuse)


@pytest.fixture(params=["pandas", "numpy"])
def csv_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each CSV parser in turn, the other one refused. pandas: the SageMaker stage of the PyTorch inference
    DLC installs it (aws/deep-learning-containers, pytorch/inference/docker/2.6/py3/Dockerfile.cpu,
    ``FROM ec2 AS sagemaker``); numpy alone: the EC2 stage of the same image, which has no pandas."""
    if request.param == "numpy":
        monkeypatch.setattr(request_rows, "csv_reader", lambda: None)
    else:
        assert request_rows.csv_reader() is not None  # pandas is a dev dependency
    return str(request.param)


def test_valid_csv_and_json_take_the_vectorized_path_and_match_the_exact_values(
    monkeypatch: pytest.MonkeyPatch, csv_parser: str
) -> None:
    values = _rows()
    text = "".join(",".join(repr(float(v)) for v in row) + "\r\n" for row in values)
    records = [dict(zip(FEATURES, map(float, row), strict=True)) for row in values]
    for index, record in enumerate(records):
        record["flag"] = bool(values[index, 2])  # JSON booleans in the bool feature
        record["ts"] = int(values[index, 3])  # JSON integers, beyond float32's precision
    body = json.dumps(records)
    expected_csv = CsvRows(text)._slow(FEATURES)
    expected_json = JsonRecords(json.loads(body))._slow(FEATURES, {"flag"})
    _slow_path_forbidden(monkeypatch)
    if csv_parser == "pandas":  # a valid body needs no second parser
        monkeypatch.setattr(request_rows, "_numpy_floats", lambda text: pytest.fail("numpy's parser ran"))
    csv_matrix = decode_request(text.encode(), "text/csv").matrix(FEATURES)
    json_matrix = decode_request(body.encode(), "application/json").matrix(FEATURES, {"flag"})
    assert csv_matrix.dtype == json_matrix.dtype == np.float64
    np.testing.assert_array_equal(csv_matrix, expected_csv)
    np.testing.assert_array_equal(json_matrix, expected_json)
    np.testing.assert_array_equal(json_matrix, values)
    assert len(np.unique(json_matrix[:, 3])) == len(np.unique(values[:, 3]))  # float32 would merge them


@pytest.mark.parametrize(
    ("body", "kind", "fragment"),
    [
        ("1,2,3,4\n1,2,x,4\n", "text/csv", "CSV row 2, column 'flag': 'x' is not a number"),
        ("1,2,3,4\n1,2,3\n", "text/csv", "CSV row 2 has 3 values; expected 4"),
        ("1,2,3,4\n1,2,,4\n", "text/csv", "CSV row 2, column 'flag' is empty"),
        ("1,2,3,inf\n", "text/csv", "CSV row 1, column 'ts': 'inf' is not a finite number"),
        ("1,2, ,4\n", "text/csv", "CSV row 1, column 'flag' is empty"),  # numpy alone read it as -1.0
        ("1,2,3,4\n1,2,3,\t\n", "text/csv", "CSV row 2, column 'ts' is empty"),
        (" ,2,3,4\n", "text/csv", "CSV row 1, column 'f0' is empty"),
        ("f0,f1,flag,ts\n1,2,3,4\n", "text/csv", "header row"),
        ('[{"f0": 1, "f1": 2, "flag": true, "ts": 4}, {"f0": true, "f1": 2, "flag": 1, "ts": 4}]',
         "application/json", "JSON record 2, column 'f0': true is not a number"),
        ('[{"f0": 1, "f1": "2", "flag": 0, "ts": 4}]', "application/json", "column 'f1': \"2\" is not a number"),
        ('[{"f0": 1, "f1": 2, "flag": 0, "ts": 4, "x": 1}]', "application/json", "unknown column(s) 'x'"),
        ('[{"f0": 1, "f1": 2, "flag": null, "ts": 4}]', "application/json", "column 'flag': null is not a number"),
    ],
)  # fmt: skip
def test_bad_bodies_fall_back_to_the_exact_message(body: str, kind: str, fragment: str, csv_parser: str) -> None:
    with pytest.raises(RequestError) as caught:
        decode_request(body.encode(), kind).matrix(FEATURES, {"flag"})
    assert caught.value.status == HTTPStatus.BAD_REQUEST
    assert fragment in str(caught.value), str(caught.value)


def test_a_blank_value_is_caught_before_numpy_reads_it_as_minus_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative case: without the blank-value check, numpy's parser (numpy 2.4) silently reads ``1, ,3``
    as ``1, -1, 3``. This test fails if the check is removed, which is what it exists for."""
    monkeypatch.setattr(request_rows, "csv_reader", lambda: None)
    monkeypatch.setattr(request_rows, "_blank_field", lambda text, body: False)
    assert CsvRows("1,2, ,4\n")._fast(4).tolist() == [[1.0, 2.0, -1.0, 4.0]]  # type: ignore[union-attr]


def test_the_fast_csv_path_agrees_with_the_per_value_path_on_messy_values(csv_parser: str) -> None:
    """Random values from digits, signs, dots, exponents, blanks (ASCII and Unicode) and junk: whenever the
    vectorized path answers, it answers what Python's ``float`` per value answers; otherwise the per-value
    path runs and explains. Found the blank-value defect above."""
    generator = random.Random(7)
    alphabet = "0123456789" * 3 + ".-+eE \t_xn\xa0\u2003\v\f"
    answered = 0
    for _ in range(1500):
        values = ["".join(generator.choice(alphabet) for _ in range(generator.randint(0, 5))) for _ in range(3)]
        rows = CsvRows(",".join(values) + "\n1,2,3\n")
        fast = rows._fast(3)
        if fast is None:
            continue
        answered += 1
        np.testing.assert_array_equal(fast, rows._slow(["a", "b", "c"]), err_msg=repr(values))
    assert answered > 50  # the fast path did answer messy but valid bodies (" 1.5", "+2e3", "1_0")


def test_a_400_names_only_a_few_missing_columns() -> None:
    features = [f"f{index}" for index in range(100)]
    with pytest.raises(RequestError) as caught:
        decode_request(b'[{"f0": 1.0}]', "application/json").matrix(features)
    message = str(caught.value)
    assert message == "JSON record 1 lacks feature column(s) f1, f2, f3, f4, f5 and 94 more", message
    with pytest.raises(RequestError) as caught:
        decode_request(b"1,2\n", "text/csv").matrix(features)
    assert len(str(caught.value)) < 120 and "and 95 more" in str(caught.value)


def test_npy_round_trip_and_bad_arrays() -> None:
    values = _rows(5)
    buffer = io.BytesIO()
    np.save(buffer, values)
    matrix = decode_request(buffer.getvalue(), NPY).matrix(FEATURES)
    np.testing.assert_array_equal(matrix, values)
    one_row = io.BytesIO()
    np.save(one_row, values[0].astype(np.float32))
    assert decode_request(one_row.getvalue(), NPY).matrix(FEATURES).shape == (1, 4)
    answer = np.load(io.BytesIO(encode_response(np.array([0.25, 0.75]), NPY)), allow_pickle=False)
    assert answer.dtype == np.float32 and answer.tolist() == [0.25, 0.75]
    bad = io.BytesIO()
    np.save(bad, np.array([[1.0, 2.0, np.nan, 4.0]]))
    for body, fragment in [(bad.getvalue(), "row 1, column 'flag'"), (b"\x93NUMPY junk", "not a .npy array")]:
        with pytest.raises(RequestError, match=fragment):
            decode_request(body, NPY).matrix(FEATURES)
    strings = io.BytesIO()
    np.save(strings, np.array([["a", "b", "c", "d"]]))
    with pytest.raises(RequestError, match="send numbers"):
        decode_request(strings.getvalue(), NPY).matrix(FEATURES)


def _model_dir(tmp_path: Path) -> Path:
    from artifacts import save_model

    model = MLP(2, [4], 0.0)
    meta = {
        "architecture": {"type": "mlp", "input_dim": 2, "hidden_sizes": [4], "dropout": 0.0},
        "feature_columns": ["ts", "flag"], "feature_types": {"ts": "int64", "flag": "bool"},
        "standardization": Standardizer(np.array([1_767_225_601_000.0, 0.5]), np.array([577.0, 0.5])).to_dict(),
        "decision_threshold": 0.5,
    }  # fmt: skip
    save_model(tmp_path, model.state_dict(), meta)
    return tmp_path


def test_serving_standardizes_in_float64_and_takes_booleans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import inference

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv(inference.THREADS_ENV, raising=False)
    threads = torch.get_num_threads()
    try:
        predictor = inference.model_fn(str(_model_dir(tmp_path)))
        assert torch.get_num_threads() == 1, "one torch thread per serving worker"
    finally:
        torch.set_num_threads(threads)
    assert predictor.bool_features == {"flag"}
    stamps = [1_767_225_600_000 + 10 * step for step in range(200)]
    body = json.dumps([{"ts": stamp, "flag": step % 2 == 0} for step, stamp in enumerate(stamps)])
    matrix = inference.input_fn(body.encode(), "application/json").matrix(["ts", "flag"], predictor.bool_features)
    standardized = predictor.standardizer.transform(matrix)
    assert len(np.unique(standardized[:, 0])) == 200  # float32 input would leave about 2 distinct values
    probabilities = inference.predict_fn(inference.input_fn(body.encode(), "application/json"), predictor)
    assert probabilities.shape == (200,)
    monkeypatch.setenv(inference.THREADS_ENV, "3")
    assert inference.serving_threads() == 3


def test_listed_cuts_long_lists() -> None:
    assert request_rows.listed(["a", "b"]) == "a, b"
    assert request_rows.listed([str(i) for i in range(7)], ",") == "0,1,2,3,4 and 2 more"
