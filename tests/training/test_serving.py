"""The training job's ``model.tar.gz`` serves as it is in the SageMaker PyTorch inference container.

One tiny real training run per session; its model directory is archived the way SageMaker uploads
it, extracted the way hosting downloads it, and loaded through the real serving toolkit's handler
(sagemaker-pytorch-inference ``HandlerService``, no model server) in a subprocess whose sys.path holds
``<model>/code`` but not ``training_src``.

Documents the assertions rest on:
- "Use PyTorch with the SageMaker Python SDK", Model Directory Structure and The SageMaker PyTorch
  Model Server (https://sagemaker.readthedocs.io/en/stable/frameworks/pytorch/using_pytorch.html):
  "Model files in the top-level directory", "Inference script (and any other source files) in a
  directory named code/"; hooks ``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``.
- InvokeEndpoint's ``ModelError`` (botocore sagemaker-runtime 2017-05-13 model, HTTP 424): "Model (owned
  by the customer in the container) returned 4xx or 5xx error code", with ``OriginalStatusCode`` and
  ``OriginalMessage``: the statuses and messages asserted here are what the caller reads there.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import pickletools
import re
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_harness import extract_for_serving, model_tarball, request, serve
from trainer_harness import TRAINING_SRC, job_env, run_trainer

pytestmark = pytest.mark.slow

ROWS = 12
# What the PyTorch inference image has besides the standard library (the assumption).
SERVING_PACKAGES = {"torch", "numpy", "sagemaker_inference"}


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory: pytest.TempPathFactory, dataset_dir: Path) -> Path:
    """The model directory of one tiny real ``train.py`` run."""
    job_dir = tmp_path_factory.mktemp("serving-job")
    result = run_trainer(["--epochs", "2", "--batch_size", "256"], job_env(job_dir, dataset_dir))
    assert result.returncode == 0, result.stderr
    return job_dir / "model"


@pytest.fixture(scope="session")
def serving_base(trained_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ``SAGEMAKER_BASE_DIR`` whose ``model/`` is the extracted ``model.tar.gz``."""
    tarball = model_tarball(trained_model_dir, tmp_path_factory.mktemp("artifacts") / "model.tar.gz")
    base_dir = tmp_path_factory.mktemp("opt-ml")
    extract_for_serving(tarball, base_dir)
    return base_dir


@pytest.fixture(scope="session")
def rows(dataset_dir: Path, trained_model_dir: Path) -> pd.DataFrame:
    """A few test-channel rows, feature columns only, in training order."""
    features = json.loads((trained_model_dir / "model_meta.json").read_text())["feature_columns"]
    return pd.read_parquet(dataset_dir / "test" / "test.parquet")[features].head(ROWS)


def csv_body(frame: pd.DataFrame) -> str:
    return frame.to_csv(header=False, index=False)


# name -> the HTTP status a bad request gets (the cases themselves are built by ``bad_requests``).
BAD_STATUS = {
    "json_missing_column": 400, "json_extra_column": 400, "json_non_numeric": 400, "json_not_a_list": 400,
    "csv_non_numeric": 400, "csv_wrong_width": 400, "csv_header_row": 400, "csv_not_finite": 400,
    "empty_body": 400, "unsupported_content_type": 415, "no_content_type": 415, "unsupported_accept": 406,
    "npy_wrong_width": 400, "npy_not_npy": 400,
}  # fmt: skip


def npy_body(array: np.ndarray) -> str:
    """A ``.npy`` body as the SDK's ``NumpySerializer`` writes it (``np.save``), base64 for the request file."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return base64.b64encode(buffer.getvalue()).decode()


def bad_requests(features: list[str]) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """name -> (request, fragments its one-line error message must hold)."""
    values = [0.5 * (index + 1) for index in range(len(features))]
    record = dict(zip(features, values, strict=True))
    without_last = {name: value for name, value in record.items() if name != features[-1]}
    line = ",".join(map(str, values))

    def with_value(position: int, text: str) -> str:
        return ",".join(text if index == position else str(value) for index, value in enumerate(values))

    csv, json_type, npy = "text/csv", "application/json", "application/x-npy"
    return {
        "json_missing_column": (request(json.dumps([record, without_last]), json_type),
                                ["JSON record 2", f"lacks feature column(s) {features[-1]}"]),
        "json_extra_column": (request(json.dumps([record | {"label": 1}]), json_type),
                              ["JSON record 1", "unknown column(s) 'label'"]),
        "json_non_numeric": (request(json.dumps([record | {features[2]: "abc"}]), json_type),
                             ["JSON record 1", repr(features[2]), '"abc" is not a number']),
        "json_not_a_list": (request(json.dumps(record), json_type), ["non-empty list of records"]),
        "csv_non_numeric": (request(f"{line}\n{with_value(1, 'abc')}\n", csv),
                            ["CSV row 2", repr(features[1]), "'abc' is not a number"]),
        "csv_wrong_width": (request("1.0,2.0\n", csv),
                            ["CSV row 1 has 2 values", f"expected {len(features)}", ",".join(features)]),
        "csv_header_row": (request(",".join(features) + f"\n{line}\n", csv), ["header row"]),
        "csv_not_finite": (request(with_value(0, "nan"), csv), ["CSV row 1", repr(features[0]), "not a finite number"]),
        "empty_body": (request("", csv), ["request body is empty"]),
        "unsupported_content_type": (request("{}", "application/x-parquet"),
                                     ["'application/x-parquet' is not supported", csv, json_type, npy]),
        "no_content_type": (request(line, None), ["Content-Type None is not supported"]),
        "unsupported_accept": (request(line, csv, "application/xml"),
                               ["Accept 'application/xml' is not supported"]),
        "npy_wrong_width": (request(npy_body(np.ones((2, 3))), npy, encoding="base64"),
                            ["shape (2, 3)", f"(rows, {len(features)})"]),
        "npy_not_npy": (request(base64.b64encode(b"not an array").decode(), npy, encoding="base64"),
                        ["not a .npy array"]),
    }  # fmt: skip


@pytest.fixture(scope="session")
def served(serving_base: Path, rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every request of this module, answered by one toolkit process."""
    records = json.dumps(rows.to_dict(orient="records"))
    cases = bad_requests(list(rows.columns))
    assert set(cases) == set(BAD_STATUS)
    requests = {
        "csv": request(csv_body(rows), "text/csv"),
        "csv_bom_crlf_accept_list": request(  # as a Windows spreadsheet saves it; JSON preferred by q
            "\ufeff" + csv_body(rows).replace("\n", "\r\n"), "text/csv", "text/csv;q=0.5, application/json"
        ),
        "json": request(records, "application/json; charset=utf-8", "text/csv"),
        # PyTorchPredictor's defaults: NumpySerializer (float64 rows) in, NumpyDeserializer (Accept x-npy) out
        "npy": request(npy_body(rows.to_numpy()), "application/x-npy", "application/x-npy", encoding="base64"),
    } | {name: case[0] for name, case in cases.items()}  # fmt: skip
    result = serve(serving_base, requests, tmp_path_factory.mktemp("serve"))
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return report


@pytest.fixture(scope="session")
def expected(serving_base: Path, rows: pd.DataFrame) -> np.ndarray:
    """What ``load_model(...).predict_proba`` gives for the rows, in the training environment."""
    from inference import load_model

    return load_model(serving_base / "model").predict_proba(rows)


def test_model_dir_holds_exactly_the_serving_code(trained_model_dir: Path) -> None:
    import artifacts

    code_dir = trained_model_dir / "code"
    names = sorted(path.name for path in code_dir.iterdir())
    assert names == [path.name for path in artifacts.serving_modules()]
    assert {"inference.py", "model.py", "serving_codec.py"} <= set(names)  # the hooks and what they import
    assert "requirements.txt" not in names  # a network-isolated endpoint could not pip install it
    for name in names:
        assert (code_dir / name).read_bytes() == (TRAINING_SRC / name).read_bytes()


def test_serving_code_imports_only_what_the_inference_image_has(trained_model_dir: Path) -> None:
    import artifacts

    code_dir = trained_model_dir / "code"
    local = {path.stem for path in code_dir.iterdir()}
    optional: set[str] = set()
    for module in code_dir.iterdir():
        outside = artifacts.imported_modules(module) - local - set(sys.stdlib_module_names) - SERVING_PACKAGES
        optional |= outside & _imports_guarded_by_import_error(module)
        assert outside <= optional, f"{module.name} imports {outside}, which the PyTorch inference image may lack"
    assert optional == {"pandas"}  # request_rows.csv_reader: faster CSV where the image has it


def test_only_an_import_error_guard_makes_an_import_optional(tmp_path: Path) -> None:
    """Negative case for the check above: a plain ``import pandas``, or one guarded by another error, counts."""
    module = tmp_path / "module.py"
    module.write_text("import pandas\ntry:\n    import scipy\nexcept ValueError:\n    pass\n")
    assert _imports_guarded_by_import_error(module) == set()
    module.write_text("try:\n    import pandas\nexcept ImportError:\n    pandas = None\n")
    assert _imports_guarded_by_import_error(module) == {"pandas"}


def _imports_guarded_by_import_error(path: Path) -> set[str]:
    """Top-level names imported inside a ``try`` that catches ImportError (or ModuleNotFoundError)."""
    guarded: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        caught = {ast.unparse(handler.type) for handler in getattr(node, "handlers", []) if handler.type}
        if isinstance(node, ast.Try) and caught & {"ImportError", "ModuleNotFoundError"}:
            for inner in (child for statement in node.body for child in ast.walk(statement)):
                if isinstance(inner, ast.Import):
                    guarded |= {alias.name.split(".")[0] for alias in inner.names}
    return guarded


def test_serving_modules_follow_imports_at_any_depth(tmp_path: Path) -> None:
    import artifacts

    (tmp_path / "inference.py").write_text("import json\nimport helper\n")
    (tmp_path / "helper.py").write_text("def f():\n    from deep import x\n    return x\n")
    (tmp_path / "deep.py").write_text("x = 1\n")
    (tmp_path / "typing_only.py").write_text("")
    (tmp_path / "unused.py").write_text("")
    (tmp_path / "helper.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import typing_only\n"
        "def f():\n    from deep import x\n    return x\n"
    )
    names = [path.name for path in artifacts.serving_modules(tmp_path)]
    assert names == ["deep.py", "helper.py", "inference.py"]
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "requirements.txt").write_text("pandas\n")  # stale: must not survive
    artifacts.write_serving_code(model_dir, tmp_path)
    assert sorted(path.name for path in model_dir.iterdir()) == ["code"]
    assert sorted(path.name for path in (model_dir / "code").iterdir()) == names


def test_the_handler_serves_from_the_model_code_only(served: dict[str, Any], serving_base: Path) -> None:
    code_dir = serving_base / "model" / "code"
    assert Path(served["inference_file"]).parent == code_dir
    assert Path(served["model_dir"]) == serving_base / "model"
    assert str(TRAINING_SRC) not in served["sys_path"]
    assert served["heavy_modules_loaded"] == []  # no pandas, no pyarrow on the serving path
    assert served["csv_reader"] == "None"  # pandas blocked (an EC2-stage image): CSV went through numpy


def test_csv_request_returns_one_probability_per_row(served: dict[str, Any], expected: np.ndarray) -> None:
    answer = served["answers"]["csv"]
    assert (answer["status"], answer["content_type"]) == (200, "application/json")  # Accept absent: JSON
    probabilities = np.asarray(json.loads(answer["body"]), dtype=np.float32)
    assert probabilities.shape == (ROWS,)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_array_equal(probabilities, expected)


def test_json_request_honours_accept(served: dict[str, Any], expected: np.ndarray) -> None:
    for name in ("json", "csv_bom_crlf_accept_list"):
        answer = served["answers"][name]
        wanted = "text/csv" if name == "json" else "application/json"  # q=0.5 ranks text/csv below JSON
        assert (answer["status"], answer["content_type"]) == (200, wanted), name
        values = answer["body"].splitlines() if wanted == "text/csv" else json.loads(answer["body"])
        np.testing.assert_array_equal(np.asarray(values, dtype=np.float32), expected)


def test_npy_in_and_out_as_the_sdk_predictor_sends_it(served: dict[str, Any], expected: np.ndarray) -> None:
    """The SageMaker SDK's ``PyTorchPredictor`` defaults to ``NumpySerializer`` (``np.save`` of the rows,
    Content-Type ``application/x-npy``) and ``NumpyDeserializer`` (Accept ``application/x-npy``, reads the
    answer with ``np.load``): before, this got a 415."""
    answer = served["answers"]["npy"]
    assert (answer["status"], answer["content_type"]) == (200, "application/x-npy"), answer["body"][:300]
    probabilities = np.load(io.BytesIO(base64.b64decode(answer["body_base64"])), allow_pickle=False)
    assert probabilities.dtype == np.float32 and probabilities.shape == (ROWS,)
    np.testing.assert_array_equal(probabilities, expected)


@pytest.mark.parametrize(("name", "status"), BAD_STATUS.items())
def test_bad_request_gets_a_4xx_naming_the_problem(
    served: dict[str, Any], rows: pd.DataFrame, name: str, status: int
) -> None:
    _, fragments = bad_requests(list(rows.columns))[name]
    answer = served["answers"][name]
    assert answer["status"] == status, answer["body"][:500]
    message = answer["phrase"]
    assert "\n" not in message and answer["body"].splitlines()[0] == message  # one line, first in the body
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_a_module_missing_from_code_fails_the_load(serving_base: Path, tmp_path: Path) -> None:
    broken = tmp_path / "opt-ml"
    shutil.copytree(serving_base, broken)
    (broken / "model" / "code" / "serving_codec.py").unlink()
    result = serve(broken, {"csv": request("1,2,3,4,5\n", "text/csv")}, tmp_path)
    assert result.returncode != 0
    assert "No module named 'serving_codec'" in result.stderr


def test_weights_use_only_globals_that_torch_2_6_loads_with_weights_only(trained_model_dir: Path) -> None:
    # The training image is PyTorch 2.8; the SDK's newest PyTorch inference image is 2.6. torch.load with
    # weights_only=True "restricts the unpickler to tensors, primitive types, dictionaries" and the tensor
    # rebuild functions and storage types (torch/_weights_only_unpickler.py, allowlist since torch 1.13,
    # https://github.com/pytorch/pytorch/pull/86812), so a float32 state_dict may name only these.
    with zipfile.ZipFile(trained_model_dir / "model.pt") as archive:
        [pickle_name] = [name for name in archive.namelist() if name.endswith("/data.pkl")]
        payload = archive.read(pickle_name)
    globals_named = {str(arg).replace(" ", ".") for op, arg, _ in pickletools.genops(payload) if op.name == "GLOBAL"}
    assert globals_named == {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage"}
    assert not [op.name for op, _, _ in pickletools.genops(payload) if op.name in {"STACK_GLOBAL", "INST", "OBJ"}]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/*", "text/csv"),
        ("TEXT/CSV; charset=utf-8", "text/csv"),
        ("application/x-npy, text/csv", "application/x-npy"),
        ("application/xml, text/csv", "text/csv"),
        ("application/*", "application/json"),
        ("text/csv;q=0.2, application/json;q=0.9", "application/json"),
        ("application/json;q=0, */*", "text/csv"),
    ],
)
def test_accept_picks_the_most_preferred_supported_type(accept: str | None, chosen: str) -> None:
    from serving_codec import response_type

    assert response_type(accept) == chosen


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[{"f0": true}]', "true is not a number"),
        ('[{"f0": NaN}]', "nan is not a finite number"),
        ('[{"f0": 1e39}]', "not a finite number"),  # beyond float32
        ('[{"f0": ' + "9" * 400 + "}]", "not a finite number"),  # beyond float64
        ("[" * 100_000, "not valid JSON"),  # nesting deeper than the recursion limit
        ("1" * 5000, "not valid JSON"),  # an integer over Python's 4300-digit limit
    ],
)
def test_json_values_that_are_not_usable_numbers_are_400(body: str, fragment: str) -> None:
    from serving_codec import RequestError, decode_request

    with pytest.raises(RequestError, match=re.escape(fragment)) as caught:
        decode_request(body.encode(), "application/json").matrix(["f0"])
    assert caught.value.status == 400


def test_hooks_raise_the_toolkit_error_only_where_the_toolkit_is(monkeypatch: pytest.MonkeyPatch) -> None:
    import inference
    from sagemaker_inference.errors import GenericInferenceToolkitError
    from serving_codec import RequestError

    with pytest.raises(GenericInferenceToolkitError) as served:
        inference.input_fn(b"{}", "application/x-parquet")
    assert served.value.status_code == 415
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", None)  # as in the training container
    assert inference._toolkit_error_class() is None
    monkeypatch.setattr(inference, "_TOOLKIT_ERROR", None)
    with pytest.raises(RequestError, match="application/x-parquet") as plain:
        inference.input_fn(b"{}", "application/x-parquet")
    assert plain.value.status == 415
