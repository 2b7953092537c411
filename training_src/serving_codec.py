"""Content negotiation for the serving hooks: request bodies to rows, probabilities to response bodies.

Why modules of their own, on the stdlib and numpy only: every stage of the PyTorch inference container
has torch, numpy and the serving toolkit, but only its SageMaker stage has pandas (used, when there, to
parse CSV faster: ``request_rows.csv_reader``) and none has pyarrow, and a registered model must
serve as it is (no ``code/requirements.txt`` to pip install on a network-isolated endpoint). Every
bad request raises ``RequestError`` with the HTTP status the client should get and a one-line
message that names the row, column or header at fault and says what would be valid.

Formats (the model package registers exactly these):
    in  ``text/csv``              one row per line, the feature values in training order, no header
    in  ``application/json``      a list of records keyed by feature name: ``[{"f0": 1.5, ...}, ...]``
    in  ``application/x-npy``     a ``.npy`` array of rows in training order (the SageMaker SDK's
                                  ``PyTorchPredictor`` sends this by default, through ``NumpySerializer``)
    out ``application/json``      a list with P(label = 1) per row: ``[0.031, 0.982]``
    out ``text/csv``              P(label = 1), one row per line
    out ``application/x-npy``     a float32 ``.npy`` vector (``PyTorchPredictor``'s ``NumpyDeserializer``)
"""

from __future__ import annotations

import io
import json
from http import HTTPStatus

import numpy as np
from request_rows import (
    CsvRows,
    JsonRecords,
    NpyArray,
    RequestError,
    bad_request,
    csv_rows,
    json_records,
    npy_array,
    shown,
)

__all__ = ["CSV", "JSON", "NPY", "CsvRows", "DecodedRequest", "JsonRecords", "NpyArray", "RequestError",
           "decode_request", "encode_response", "media_type", "response_type"]  # fmt: skip

CSV = "text/csv"
JSON = "application/json"
NPY = "application/x-npy"
REQUEST_TYPES = (CSV, JSON, NPY)
RESPONSE_TYPES = (JSON, CSV, NPY)
_WILDCARDS = {"*/*": RESPONSE_TYPES, "application/*": (JSON, NPY), "text/*": (CSV,)}


def media_type(header: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header: ``Text/CSV; charset=utf-8`` -> ``text/csv``."""
    return (header or "").split(";", 1)[0].strip().lower()


DecodedRequest = CsvRows | JsonRecords | NpyArray


def decode_request(body: bytes | bytearray | str, content_type: str | None) -> DecodedRequest:
    """Split a request body into rows (``CsvRows``, ``NpyArray``) or records (``JsonRecords``) by its Content-Type."""
    kind = media_type(content_type)
    if kind not in REQUEST_TYPES:
        raise RequestError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {shown(content_type)} is not supported; send {CSV} (feature values, no header), "
            f"{JSON} (a list of records keyed by feature name) or {NPY} (a .npy array of rows)",
        )
    if kind == NPY:
        if isinstance(body, str) or not body:
            raise bad_request(f"the request body is {'empty' if not body else 'text'}; send a .npy array as {NPY}")
        return npy_array(bytes(body))
    text = _text(body)
    if not text.strip():
        raise bad_request(f"the request body is empty; send one or more rows as {kind}")
    return csv_rows(text) if kind == CSV else json_records(text)


def response_type(accept: str | None) -> str:
    """The response media type for an Accept header: its most preferred supported type (JSON by default)."""
    if not accept or not accept.strip():
        return JSON
    items = [item.partition(";") for item in accept.split(",")]
    ranked = [(_quality(parameters), media_type(kind)) for kind, _, parameters in items]
    refused = {kind for quality, kind in ranked if quality == 0}  # "q=0" means "not this one"
    for quality, kind in sorted(ranked, key=lambda item: -item[0]):  # stable: ties keep the client's order
        usable = [option for option in _WILDCARDS.get(kind, (kind,)) if option in RESPONSE_TYPES]
        usable = [option for option in usable if option not in refused]
        if quality > 0 and usable:
            return usable[0]
    raise RequestError(
        HTTPStatus.NOT_ACCEPTABLE, f"Accept {shown(accept)} is not supported; accept {JSON}, {CSV} or {NPY}"
    )


def encode_response(probabilities: np.ndarray, kind: str) -> bytes:
    """``kind`` (from ``response_type``) body with one probability per row, each value's float repr (or a
    float32 ``.npy`` vector)."""
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(probabilities, dtype=np.float32).reshape(-1), allow_pickle=False)
        return buffer.getvalue()
    values = [float(value) for value in np.asarray(probabilities).reshape(-1)]
    if kind == CSV:
        return "".join(f"{value!r}\n" for value in values).encode("utf-8")
    return json.dumps(values).encode("utf-8")


def _text(body: bytes | bytearray | str) -> str:
    """The body as text without a byte order mark (the toolkit decodes exact ``text/csv`` bodies itself)."""
    if isinstance(body, str):
        return body.removeprefix("\ufeff")
    try:
        return bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise bad_request(f"the request body is not UTF-8 text (byte {error.start} is invalid)") from None


def _quality(parameters: str) -> float:
    """The ``q`` of an Accept item's parameters (``;q=0.5``); 1 when absent or unreadable."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0
