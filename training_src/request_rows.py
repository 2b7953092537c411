"""Request bodies to float64 feature matrices, vectorized, with a per-value pass only to explain a 400.

Every body type has a fast path that converts the whole body at once (pandas' C CSV reader where the
image has pandas, else numpy's C float parser; one list per column for JSON; ``np.load`` for ``.npy``)
and checks the result as a whole. When
anything is off, the body goes through the per-row path, which finds the first bad row or value and
raises ``RequestError`` naming it. Values stay float64 until the standardizer has subtracted the
mean, so an int64 feature such as epoch milliseconds keeps its precision (see ``model.Standardizer``).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import numpy as np

_FLOAT32_MAX = float(np.finfo(np.float32).max)
LISTED = 5
"""A 400 reason names at most this many columns (a reason phrase must stay one short line)."""


class RequestError(ValueError):
    """A request the model cannot answer; ``status`` is the HTTP status the client gets."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def bad_request(message: str) -> RequestError:
    return RequestError(HTTPStatus.BAD_REQUEST, message)


def listed(names: Sequence[str], separator: str = ", ") -> str:
    """At most ``LISTED`` names, then how many more: ``f0, f1, f2, f3, f4 and 95 more``."""
    shown = separator.join(names[:LISTED])
    return shown if len(names) <= LISTED else f"{shown} and {len(names) - LISTED} more"


def shown(value: Any) -> str:
    """``value`` quoted in ASCII (a reason phrase is ISO-8859-1) and cut short, for a one-line message."""
    return cut(ascii(value))


def cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _usable(matrix: np.ndarray) -> bool:
    """Every value finite and within float32's range (the model computes in float32)."""
    return bool(np.isfinite(matrix).all() and (np.abs(matrix) <= _FLOAT32_MAX).all())


@dataclass(frozen=True)
class CsvRows:
    """A ``text/csv`` body; checked against the features by ``matrix``."""

    text: str

    def matrix(self, features: Sequence[str], bool_features: Collection[str] = ()) -> np.ndarray:
        """float64 ``(rows, features)``; raises ``RequestError`` naming the first bad row or value."""
        fast = self._fast(len(features))
        return fast if fast is not None else self._slow(features)

    def _fast(self, width: int) -> np.ndarray | None:
        text = self.text.replace("\r", "").rstrip("\n")
        if '"' in text:
            return None
        body = np.frombuffer(text.encode(), dtype=np.uint8)
        ends = np.flatnonzero(body == ord("\n"))
        commas = np.flatnonzero(body == ord(","))
        per_line = np.diff(np.searchsorted(commas, np.append(ends, len(body))), prepend=0)
        lengths = np.diff(np.concatenate([[-1], ends, [len(body)]]))
        if len(body) == 0 or (per_line != width - 1).any() or (lengths <= 1).any() or _blank_field(text, body):
            return None  # another width, a blank line or a blank value: the per-row path explains or skips it
        values = _pandas_floats(text)
        if values is None:
            values = _numpy_floats(text)
        rows = len(ends) + 1
        if values is None or values.size != rows * width or not _usable(values):
            return None
        return values.reshape(rows, width)

    def _slow(self, features: Sequence[str]) -> np.ndarray:
        try:
            rows = [row for row in csv.reader(io.StringIO(self.text)) if row]
        except csv.Error as error:
            raise bad_request(f"the CSV body cannot be parsed: {error}") from None
        order = listed(features, ",")
        if [value.strip() for value in rows[0]] == list(features):
            raise bad_request(f"the CSV body starts with a header row; send values only, in the order {order}")
        out = np.empty((len(rows), len(features)))
        for index, row in enumerate(rows):
            if len(row) != len(features):
                raise bad_request(
                    f"CSV row {index + 1} has {len(row)} values; expected {len(features)}, in the order {order}"
                )
            where = f"CSV row {index + 1}, column"
            out[index] = [_csv_number(value, f"{where} {name!r}") for value, name in zip(row, features, strict=True)]
        return out


@dataclass(frozen=True)
class JsonRecords:
    """An ``application/json`` list of records; checked against the features by ``matrix``."""

    records: list[Any]

    def matrix(self, features: Sequence[str], bool_features: Collection[str] = ()) -> np.ndarray:
        """float64 ``(records, features)``; JSON booleans count as 1/0 in bool features only."""
        fast = self._fast(features, bool_features)
        return fast if fast is not None else self._slow(features, bool_features)

    def _fast(self, features: Sequence[str], bool_features: Collection[str]) -> np.ndarray | None:
        records = self.records
        if set(map(type, records)) != {dict} or sum(map(len, records)) != len(records) * len(features):
            return None  # not all objects, or some record has another number of keys
        out = np.empty((len(records), len(features)))
        for index, name in enumerate(features):
            try:
                column = [record[name] for record in records]
            except KeyError:
                return None
            allowed = {int, float, bool} if name in bool_features else {int, float}
            if not set(map(type, column)) <= allowed:
                return None
            try:
                out[:, index] = column
            except OverflowError:  # an integer beyond float range
                return None
        return out if _usable(out) else None

    def _slow(self, features: Sequence[str], bool_features: Collection[str]) -> np.ndarray:
        out = np.empty((len(self.records), len(features)))
        for index, record in enumerate(self.records):
            where = f"JSON record {index + 1}"
            _check_keys(record, features, where)
            out[index] = [
                _json_number(record[name], f"{where}, column {name!r}", name in bool_features) for name in features
            ]
        return out


@dataclass(frozen=True)
class NpyArray:
    """An ``application/x-npy`` body: what the SageMaker SDK's ``NumpySerializer`` (``PyTorchPredictor``'s
    default serializer) sends, a ``.npy`` array of rows in the order of ``feature_columns``."""

    array: np.ndarray

    def matrix(self, features: Sequence[str], bool_features: Collection[str] = ()) -> np.ndarray:
        """float64 ``(rows, features)`` from a 2-D (or, for one row, 1-D) numeric or bool array."""
        array = self.array
        if array.dtype.kind not in "biuf":
            raise bad_request(f"the .npy array holds {array.dtype}; send numbers (float, int or bool)")
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(features) or array.shape[0] == 0:
            raise bad_request(
                f"the .npy array has shape {array.shape}; expected (rows, {len(features)}), the columns in the order "
                f"{listed(features, ',')}"
            )
        out = array.astype(np.float64)
        if not _usable(out):
            row, column = (int(value[0]) for value in np.nonzero(~np.isfinite(out) | (np.abs(out) > _FLOAT32_MAX)))
            raise bad_request(
                f".npy row {row + 1}, column {features[column]!r}: {out[row, column]!r} is not a finite number"
            )
        return out


_BLANKS = (" ", "\t", "\v", "\f")


def _blank_field(text: str, body: np.ndarray) -> bool:
    """Whether some value is only spaces or tabs (``1, ,3``): numpy's parser reads it as -1.0, silently.

    Empty values (``1,,3``) stop both parsers; a body without blanks skips the check (``str.find`` is cheap).
    """
    if not any(blank in text for blank in _BLANKS):
        return False
    separators = (body == ord(",")) | (body == ord("\n"))
    blanks = np.isin(body, np.frombuffer("".join(_BLANKS).encode(), dtype=np.uint8))
    kept = separators[~blanks]  # what remains once blanks are gone: separators and value characters
    return len(kept) == 0 or bool(kept[0] or kept[-1] or (kept[1:] & kept[:-1]).any())


@functools.cache
def csv_reader() -> Callable[..., Any] | None:
    """pandas' ``read_csv`` where pandas is installed, else None (numpy's parser does the work).

    Why: the SageMaker stage of the PyTorch inference DLC installs pandas (aws/deep-learning-containers,
    ``pytorch/inference/docker/2.6/py3/Dockerfile.cpu``, ``FROM ec2 AS sagemaker``: ``pip install ...
    scikit-learn pandas sagemaker-pytorch-inference``), and its C reader parses a numeric CSV about 4x
    faster than ``numpy.fromstring`` (``make bench-train``). The EC2 stage of the same image has no pandas,
    and a registered model must serve as it is, so pandas stays optional; it is imported on the first CSV
    request, not by JSON or ``.npy`` clients.
    """
    try:
        import pandas  # type: ignore[import-untyped]  # noqa: PLC0415  # lazy and optional; no type stubs
    except ImportError:
        return None
    reader: Callable[..., Any] = pandas.read_csv
    return reader


def _pandas_floats(text: str) -> np.ndarray | None:
    """Every value of a rectangular, quote-free CSV as a flat float64 array, or None where pandas is missing
    or refuses a value (the caller falls back to numpy, then to the per-row path that explains the 400)."""
    reader = csv_reader()
    if reader is None:
        return None
    try:
        frame = reader(io.StringIO(text), header=None, dtype=np.float64, na_filter=False, engine="c")
    except (ValueError, OverflowError):  # pandas' ParserError is a ValueError
        return None
    values: np.ndarray = frame.to_numpy(dtype=np.float64).reshape(-1)
    return values


def _numpy_floats(text: str) -> np.ndarray | None:
    """The same with numpy's C float parser, or None at a value it cannot parse."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (and stops early) at a value it cannot parse
        try:
            return np.fromstring(text.replace("\n", ","), dtype=np.float64, sep=",")
        except (ValueError, DeprecationWarning):
            return None


def csv_rows(text: str) -> CsvRows:
    return CsvRows(text)


def json_records(text: str) -> JsonRecords:
    try:
        records = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, an integer over 4300 digits, deep nesting
        raise bad_request(f"the JSON body is not valid JSON: {cut(str(error), 120)}") from None
    if not isinstance(records, list) or not records:
        raise bad_request('the JSON body must be a non-empty list of records, e.g. [{"feature": 1.5, ...}]')
    return JsonRecords(records)


def npy_array(body: bytes) -> NpyArray:
    try:
        return NpyArray(np.load(io.BytesIO(body), allow_pickle=False))
    except (ValueError, OSError, EOFError) as error:
        raise bad_request(f"the body is not a .npy array (numpy.save format): {cut(str(error), 120)}") from None


def _check_keys(record: Any, features: Sequence[str], where: str) -> None:
    if not isinstance(record, dict):
        raise bad_request(f"{where} is not an object keyed by feature name; expected keys {listed(features)}")
    missing = [name for name in features if name not in record]
    if missing:
        raise bad_request(f"{where} lacks feature column(s) {listed(missing)}")
    extra = [name for name in record if name not in features]
    if extra:
        raise bad_request(
            f"{where} has unknown column(s) {listed([shown(name) for name in extra])}; "
            f"expected exactly {listed(features)}"
        )


def _csv_number(value: str, where: str) -> float:
    if not value.strip():
        raise bad_request(f"{where} is empty; every feature needs a number")
    try:
        number = float(value)
    except ValueError:
        raise bad_request(f"{where}: {shown(value)} is not a number") from None
    return _finite(number, value, where)


def _json_number(value: Any, where: str, bool_allowed: bool) -> float:
    if isinstance(value, bool) and bool_allowed:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "JSON numbers (or true/false for bool features)" if not bool_allowed else "JSON numbers or true/false"
        raise bad_request(f"{where}: {cut(json.dumps(value))} is not a number (send {kind}, not strings or null)")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    return _finite(number, value, where)


def _finite(number: float, raw: Any, where: str) -> float:
    if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
        raise bad_request(f"{where}: {shown(raw)} is not a finite number")
    return number
