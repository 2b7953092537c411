"""Request bodies to feature matrices and probabilities to response bodies, for the serving hooks.

Why a module of its own, on the stdlib and numpy only: the PyTorch inference container has torch,
numpy and the SageMaker serving toolkit, but not pandas or pyarrow, and a registered model must
serve as it is (no ``code/requirements.txt`` to pip install on a network-isolated endpoint). Every
bad request raises ``RequestError`` with the HTTP status the client should get and a one-line
message that names the row, column or header at fault and says what would be valid.

Formats (the model package registers exactly these):
    in  ``text/csv``          one row per line, the feature values in training order, no header
    in  ``application/json``  a list of records keyed by feature name: ``[{"f0": 1.5, ...}, ...]``
    out ``application/json``  a list with P(label = 1) per row: ``[0.031, 0.982]``
    out ``text/csv``          P(label = 1), one row per line
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import numpy as np

CSV = "text/csv"
JSON = "application/json"
REQUEST_TYPES = (CSV, JSON)
RESPONSE_TYPES = (JSON, CSV)
_WILDCARDS = {"*/*": RESPONSE_TYPES, "application/*": (JSON,), "text/*": (CSV,)}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class RequestError(ValueError):
    """A request the model cannot answer; ``status`` is the HTTP status the client gets."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _bad_request(message: str) -> RequestError:
    return RequestError(HTTPStatus.BAD_REQUEST, message)


def media_type(header: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header: ``Text/CSV; charset=utf-8`` -> ``text/csv``."""
    return (header or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class CsvRows:
    """A ``text/csv`` body split into rows of raw values; checked against the features by ``matrix``."""

    rows: list[list[str]]

    def matrix(self, features: Sequence[str]) -> np.ndarray:
        """float32 ``(rows, features)``; raises ``RequestError`` naming the first bad row or value."""
        expected = ",".join(features)
        if [value.strip() for value in self.rows[0]] == list(features):
            raise _bad_request(f"the CSV body starts with a header row; send values only, in the order {expected}")
        out = np.empty((len(self.rows), len(features)), dtype=np.float32)
        for index, row in enumerate(self.rows):
            if len(row) != len(features):
                raise _bad_request(
                    f"CSV row {index + 1} has {len(row)} values; expected {len(features)}, in the order {expected}"
                )
            where = f"CSV row {index + 1}, column"
            out[index] = [_csv_number(value, f"{where} {name!r}") for value, name in zip(row, features, strict=True)]
        return out


@dataclass(frozen=True)
class JsonRecords:
    """An ``application/json`` list of records; checked against the features by ``matrix``."""

    records: list[Any]

    def matrix(self, features: Sequence[str]) -> np.ndarray:
        """float32 ``(records, features)``; raises ``RequestError`` naming the first bad record or value."""
        out = np.empty((len(self.records), len(features)), dtype=np.float32)
        for index, record in enumerate(self.records):
            where = f"JSON record {index + 1}"
            _check_keys(record, features, where)
            out[index] = [_json_number(record[name], f"{where}, column {name!r}") for name in features]
        return out


DecodedRequest = CsvRows | JsonRecords


def decode_request(body: bytes | bytearray | str, content_type: str | None) -> DecodedRequest:
    """Split a request body into rows (``CsvRows``) or records (``JsonRecords``) by its Content-Type."""
    kind = media_type(content_type)
    if kind not in REQUEST_TYPES:
        raise RequestError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {_shown(content_type)} is not supported; send {CSV} (feature values, no header) "
            f"or {JSON} (a list of records keyed by feature name)",
        )
    text = _text(body)
    if not text.strip():
        raise _bad_request(f"the request body is empty; send one or more rows as {kind}")
    return _csv_rows(text) if kind == CSV else _json_records(text)


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
    raise RequestError(HTTPStatus.NOT_ACCEPTABLE, f"Accept {_shown(accept)} is not supported; accept {JSON} or {CSV}")


def encode_response(probabilities: np.ndarray, kind: str) -> bytes:
    """``kind`` (from ``response_type``) body with one probability per row, each value's float repr."""
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
        raise _bad_request(f"the request body is not UTF-8 text (byte {error.start} is invalid)") from None


def _csv_rows(text: str) -> CsvRows:
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as error:
        raise _bad_request(f"the CSV body cannot be parsed: {error}") from None
    return CsvRows(rows)


def _json_records(text: str) -> JsonRecords:
    try:
        records = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, an integer over 4300 digits, deep nesting
        raise _bad_request(f"the JSON body is not valid JSON: {_cut(str(error), 120)}") from None
    if not isinstance(records, list) or not records:
        raise _bad_request('the JSON body must be a non-empty list of records, e.g. [{"feature": 1.5, ...}]')
    return JsonRecords(records)


def _check_keys(record: Any, features: Sequence[str], where: str) -> None:
    if not isinstance(record, dict):
        raise _bad_request(f"{where} is not an object keyed by feature name; expected keys {', '.join(features)}")
    missing = [name for name in features if name not in record]
    if missing:
        raise _bad_request(f"{where} lacks feature column(s) {', '.join(missing)}")
    extra = [name for name in record if name not in features]
    if extra:
        raise _bad_request(
            f"{where} has unknown column(s) {', '.join(map(_shown, extra))}; expected exactly {', '.join(features)}"
        )


def _csv_number(value: str, where: str) -> float:
    if not value.strip():
        raise _bad_request(f"{where} is empty; every feature needs a number")
    try:
        number = float(value)
    except ValueError:
        raise _bad_request(f"{where}: {_shown(value)} is not a number") from None
    return _finite(number, value, where)


def _json_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = _cut(json.dumps(value))
        raise _bad_request(f"{where}: {shown} is not a number (send JSON numbers, not strings or null)")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    return _finite(number, value, where)


def _finite(number: float, raw: Any, where: str) -> float:
    if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
        raise _bad_request(f"{where}: {_shown(raw)} is not a finite number")
    return number


def _shown(value: Any) -> str:
    """``value`` quoted in ASCII (a reason phrase is ISO-8859-1) and cut short, for a one-line message."""
    return _cut(ascii(value))


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


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
