"""Loading a trained model for prediction, and the SageMaker PyTorch serving hooks.

The trainer copies this file and the modules it imports into ``<model dir>/code/`` (see
``artifacts.save_model``), so the training job's ``model.tar.gz`` serves as it is in the PyTorch
inference container with ``SAGEMAKER_PROGRAM=inference.py``. Serving needs torch, numpy and the
standard library only: the weights are a plain state_dict read with ``torch.load(weights_only=True)``
and the rest is JSON, so a model trained with torch 2.8 loads in the 2.6 inference image.

Example:
    >>> predictor = load_model("/opt/ml/model")
    >>> probabilities = predictor.predict_proba(dataframe)  # P(label == 1) per row
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from model import MLP, Standardizer
from request_rows import csv_reader
from serving_codec import (
    CsvRows,
    DecodedRequest,
    JsonRecords,
    NpyArray,
    RequestError,
    decode_request,
    encode_response,
    response_type,
)

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]  # ships no type stubs; only the training side passes DataFrames

MODEL_FILE = "model.pt"
META_FILE = "model_meta.json"
THREADS_ENV = "INFERENCE_TORCH_THREADS"
"""Torch threads per serving worker; unset: ``OMP_NUM_THREADS`` if set, else 1."""


def serving_threads() -> int:
    """Torch threads for one serving worker: 1 unless ``INFERENCE_TORCH_THREADS`` or ``OMP_NUM_THREADS`` say otherwise.

    The model server starts a worker per vCPU; each worker's torch would otherwise start a thread per
    vCPU too, so an instance with 4 vCPUs would run 16 threads on 4 cores, and a small MLP's batch
    spends more time waking threads than computing.
    """
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def _toolkit_error_class() -> type[Exception] | None:
    """The serving toolkit's ``GenericInferenceToolkitError``, or None where the toolkit is absent.

    sagemaker_inference 1.10.1, ``transformer.Transformer.transform``: an exception that is a
    ``BaseInferenceToolkitError`` answers the request with its ``status_code`` and its message as the
    reason phrase and first body line (``handle_error``); any other exception, ``UnsupportedFormatError``
    included, answers 500. sagemaker-pytorch-inference 2.0.25's ``HandlerService`` hands every request
    to that ``Transformer`` and maps nothing itself. Where the toolkit is absent (the training container,
    laptops) the hooks raise ``RequestError`` as it is.
    """
    try:
        from sagemaker_inference.errors import (  # type: ignore[import-untyped]  # noqa: PLC0415 - optional, untyped
            GenericInferenceToolkitError,
        )
    except ImportError:
        return None
    error_class: type[Exception] = GenericInferenceToolkitError
    return error_class


_TOOLKIT_ERROR = _toolkit_error_class()


class Predictor:
    """The trained MLP with its standardization and feature order."""

    def __init__(self, model: MLP, standardizer: Standardizer, meta: dict[str, Any]) -> None:
        self.model = model.eval()
        self.standardizer = standardizer
        self.meta = meta
        self.feature_columns: list[str] = list(meta["feature_columns"])
        types = meta.get("feature_types", {})
        self.bool_features = frozenset(name for name in self.feature_columns if types.get(name) == "bool")
        self.threshold = float(meta.get("decision_threshold", 0.5))

    def _matrix(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        pandas = sys.modules.get("pandas")  # a DataFrame implies pandas is loaded; never imported here
        if pandas is not None and isinstance(data, pandas.DataFrame):
            missing = [column for column in self.feature_columns if column not in data.columns]
            if missing:
                raise ValueError(f"input lacks feature columns {missing}")
            data = data[self.feature_columns].to_numpy(dtype=np.float64)
        matrix = np.asarray(data, dtype=np.float64)  # float64 until standardized: int64 columns keep their precision
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.shape[1] != len(self.feature_columns):
            raise ValueError(f"expected {len(self.feature_columns)} features, got {matrix.shape[1]}")
        return matrix

    def predict_proba(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row.

        Args:
            data: a DataFrame with (at least) the feature columns, or an array with them in training order.
        """
        features = torch.from_numpy(self.standardizer.transform(self._matrix(data)))
        with torch.no_grad():
            return torch.sigmoid(self.model(features)).numpy()

    def predict(self, data: pd.DataFrame | np.ndarray) -> np.ndarray:
        """0/1 predictions at the training ``decision_threshold``."""
        return (self.predict_proba(data) >= self.threshold).astype(np.int64)


def load_model(model_dir: str | Path) -> Predictor:
    """Load ``model.pt`` and ``model_meta.json`` from ``model_dir`` (the job's ``SM_MODEL_DIR``) onto the CPU."""
    directory = Path(model_dir)
    for name in (META_FILE, MODEL_FILE):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory} has no {name}: point at the model directory written by training_src/train.py "
                f"(an extracted model.tar.gz holding {MODEL_FILE}, {META_FILE} and code/)"
            )
    meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    architecture = meta["architecture"]
    model = MLP(architecture["input_dim"], architecture["hidden_sizes"], architecture["dropout"])
    model.load_state_dict(torch.load(directory / MODEL_FILE, map_location="cpu", weights_only=True))
    return Predictor(model, Standardizer.from_dict(meta["standardization"]), meta)


@contextmanager
def _client_errors() -> Iterator[None]:
    """Re-raise ``RequestError`` as the toolkit's error, so the client gets its 4xx status, not a 500."""
    try:
        yield
    except RequestError as error:
        if _TOOLKIT_ERROR is None:
            raise
        raise _TOOLKIT_ERROR(int(error.status), str(error)) from None


def model_fn(model_dir: str) -> Predictor:
    """Serving hook: load the model once per worker, from the extracted ``model.tar.gz`` (``serving_threads``)."""
    torch.set_num_threads(serving_threads())
    csv_reader()  # pandas, where the image has it, loads with the model, not on the first CSV request
    return load_model(model_dir)


def input_fn(request_body: bytes | bytearray | str, request_content_type: str | None) -> DecodedRequest:
    """Serving hook: split a ``text/csv``, ``application/json`` or ``application/x-npy`` body into rows (415
    for other types)."""
    with _client_errors():
        return decode_request(request_body, request_content_type)


def predict_fn(input_data: Any, predictor: Predictor) -> np.ndarray:
    """Serving hook: P(label = 1) per row of the decoded request (or of an array, tensor or DataFrame).

    Rows are checked against the model's features here, where the model is known: missing, extra or
    non-numeric values answer 400 with the record, row and column named.
    """
    with _client_errors():
        if isinstance(input_data, CsvRows | JsonRecords | NpyArray):
            input_data = input_data.matrix(predictor.feature_columns, predictor.bool_features)
    if isinstance(input_data, torch.Tensor):
        input_data = input_data.cpu().numpy()
    return predictor.predict_proba(input_data)


def output_fn(prediction: np.ndarray | torch.Tensor, accept: str | None) -> tuple[bytes, str]:
    """Serving hook: the probabilities as JSON, CSV or .npy, whichever the Accept header prefers (406 otherwise).

    Returns ``(body, content type)``: the toolkit sets the response Content-Type from the tuple's second
    item (``Transformer.transform``), so an Accept list such as ``text/csv, */*`` answers ``text/csv``.
    """
    with _client_errors():
        kind = response_type(accept)
    if isinstance(prediction, torch.Tensor):
        prediction = prediction.detach().cpu().numpy()
    return encode_response(prediction, kind), kind
