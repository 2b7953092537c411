"""The contract between the pipeline builder and the trainer (stdlib only).

This module ships inside the training bundle and is imported by the CDK app's
step builder too, so both sides agree on:

* hyperparameter names, types, defaults and valid ranges, and how each value is
  serialized into the string SageMaker passes on the command line;
* the metric log line format and the regexes SageMaker uses to scrape it;
* channel names, file layout and the local checkpoint path.

Nothing here may import anything outside the standard library.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
"""Where SageMaker syncs checkpoints to and from ``checkpoint_s3_uri``."""

ENTRY_POINT = "train.py"
"""The trainer's entry point, at the root of the source bundle."""

SERVING_MIN_PYTHON = (3, 10)
"""The oldest Python the serving code (``inference.py`` and what it imports) runs on: it uses
``isinstance(x, A | B)`` and ``zip(strict=True)``, both new in 3.10."""

REQUIRED_CHANNELS = ("train", "val")
OPTIONAL_CHANNELS = ("test",)
CHANNELS = REQUIRED_CHANNELS + OPTIONAL_CHANNELS


def channel_prefix(channel: str) -> str:
    """Relative S3 prefix of a channel's folder under the input prefix, e.g. ``train/``.

    The trailing slash matters: S3 matches a channel's ``S3Uri`` as a plain key prefix, so
    ``train`` would also match ``train-old/...``, and ``train/train.parquet`` would miss the
    ``part-00000-*.parquet`` files of a sharded export.
    """
    return f"{channel}/"


def channel_object_key(channel: str) -> str:
    """Relative S3 key of the sample data's single file of a channel, e.g. ``train/train.parquet``."""
    return f"{channel_prefix(channel)}{channel}.parquet"


@dataclass(frozen=True)
class HyperparameterSpec:
    """One hyperparameter: its name, type, default, valid range and meaning.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``str``, ``list[str]``, ``list[int]``.
    ``minimum``/``maximum`` are inclusive bounds; ``exclusive_minimum`` is a strict lower bound.
    """

    name: str
    kind: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple[str, ...] | None = None
    """For ``str`` hyperparameters: the only valid values (the trainer refuses others)."""


DATA_LOADING_CHOICES = ("auto", "memory", "stream")
"""``data_loading`` values: see ``training_src/memory_budget.py``."""

HYPERPARAMETERS: tuple[HyperparameterSpec, ...] = (
    HyperparameterSpec("label_column", "str", "label", "Name of the binary 0/1 label column."),
    HyperparameterSpec(
        "feature_columns",
        "list[str]",
        [],
        "Feature columns to use; empty means every numeric column except the label.",
    ),
    HyperparameterSpec(
        "exclude_columns",
        "list[str]",
        [],
        "Columns never used as features (e.g. IDs); each must exist in the data. Non-numeric columns are "
        "excluded anyway and listed in the log and the model's metadata.",
    ),
    HyperparameterSpec("hidden_sizes", "list[int]", [64, 32], "Widths of the MLP's hidden layers.", minimum=1),
    HyperparameterSpec("dropout", "float", 0.1, "Dropout after each hidden layer.", minimum=0.0, exclusive_maximum=1.0),
    HyperparameterSpec("learning_rate", "float", 0.001, "AdamW learning rate.", exclusive_minimum=0.0, maximum=1.0),
    HyperparameterSpec("weight_decay", "float", 0.0, "AdamW weight decay.", minimum=0.0, maximum=1.0),
    HyperparameterSpec("batch_size", "int", 256, "Samples per step on each process.", minimum=1, maximum=65536),
    HyperparameterSpec("epochs", "int", 10, "Maximum number of epochs.", minimum=1, maximum=1000),
    HyperparameterSpec(
        "patience",
        "int",
        3,
        "Epochs without a val AUROC improvement before early stopping.",
        minimum=1,
        maximum=1000,
    ),
    HyperparameterSpec(
        "decision_threshold",
        "float",
        0.5,
        "Probability at or above which a sample is predicted positive (for F1).",
        exclusive_minimum=0.0,
        exclusive_maximum=1.0,
    ),
    HyperparameterSpec("seed", "int", 42, "Random seed for data order and weights.", minimum=0, maximum=2**31 - 1),
    HyperparameterSpec(
        "log_interval_steps",
        "int",
        50,
        "Print a progress line (steps/s, ETA) every this many steps.",
        minimum=1,
        maximum=1_000_000,
    ),
    HyperparameterSpec(
        "data_loading",
        "str",
        "auto",
        "How the trainer holds the data: auto (in memory when it fits the instance's available memory, "
        "else streamed), memory (fails at once, naming the memory needed, when it does not fit) or stream "
        "(row groups read each epoch in a shuffled order through a bounded shuffle buffer).",
        choices=DATA_LOADING_CHOICES,
    ),
)

HYPERPARAMETERS_BY_NAME = {spec.name: spec for spec in HYPERPARAMETERS}
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {spec.name: spec.default for spec in HYPERPARAMETERS}


def serialize_value(spec: HyperparameterSpec, value: Any) -> str:
    """Serialize one hyperparameter value into the string SageMaker passes to the script.

    Strings go as they are, lists as JSON, bools as ``true``/``false`` and numbers by
    ``repr`` so that floats round-trip exactly.
    """
    if spec.kind == "str":
        return str(value)
    if spec.kind.startswith("list"):
        return json.dumps(list(value), separators=(",", ":"))
    if spec.kind == "bool":
        return "true" if value else "false"
    return repr(int(value)) if spec.kind == "int" else repr(float(value))


def parse_value(spec: HyperparameterSpec, text: str) -> Any:
    """Parse the string form of a hyperparameter back into its typed value.

    Raises:
        ValueError: with the hyperparameter's name when ``text`` is not a valid value.
    """
    try:
        if spec.kind == "str":
            return text
        if spec.kind == "int":
            return int(text)
        if spec.kind == "float":
            return float(text)
        if spec.kind == "bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return lowered in ("true", "1")
        items = json.loads(text)
        if not isinstance(items, list):
            raise ValueError("expected a JSON list")
        item_type = str if spec.kind == "list[str]" else int
        if not all(isinstance(item, item_type) and not isinstance(item, bool) for item in items):
            raise ValueError(f"expected a JSON list of {item_type.__name__}")
        return items
    except ValueError as error:
        raise ValueError(f"hyperparameter {spec.name}: cannot parse {text!r} as {spec.kind}: {error}") from None


@dataclass(frozen=True)
class MetricSpec:
    """A metric the trainer logs and SageMaker scrapes: display name and log key."""

    display_name: str
    key: str

    @property
    def regex(self) -> str:
        """The regex SageMaker uses to read this metric from the job's log."""
        return f"{self.key}=([0-9\\.]+)"


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("Train Loss", "train_loss"),
    MetricSpec("Validation Loss", "val_loss"),
    MetricSpec("Validation F1 Score", "val/f1_score"),
    MetricSpec("Validation AUC ROC", "val/auroc"),
    MetricSpec("Test F1 Score", "test/f1_score"),
    MetricSpec("Test AUC ROC", "test/auroc"),
    MetricSpec("Selected Validation AUC ROC", "selected_val_auroc"),
)

EPOCH_METRIC_KEYS = ("train_loss", "val_loss", "val/f1_score", "val/auroc")
TEST_METRIC_KEYS = ("test/f1_score", "test/auroc")
SELECTED_METRIC_KEYS = ("selected_val_auroc",)
"""Logged once, at the end, for the selected (best) epoch's model. SageMaker keeps each metric's
last scraped value in ``FinalMetricDataList``; ``Validation AUC ROC`` ends as the *last* epoch's
value, so the quality gate reads this one. Its key must not contain another metric's key
(``best_val/auroc`` would also match the ``val/auroc=`` regex)."""

GATE_METRIC_WITH_TEST = "Test AUC ROC"
"""The quality gate's metric when the stage declares the test channel (logged once, for the selected model)."""
GATE_METRIC_WITHOUT_TEST = "Selected Validation AUC ROC"
"""The quality gate's metric when the stage declares no test channel."""
METRIC_DECIMALS = 6


def metric_definitions() -> list[dict[str, str]]:
    """SageMaker ``MetricDefinitions``: ``Name`` and ``Regex`` for every metric."""
    return [{"Name": metric.display_name, "Regex": metric.regex} for metric in METRICS]


def format_metric_value(value: float) -> str:
    """Format a metric as a plain fixed-point decimal (never ``1e-05``, never ``nan``).

    Raises:
        ValueError: when the value is not finite or is negative, which the scrape regexes cannot read.
    """
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"metric value {value!r} must be a finite, non-negative number")
    return f"{value:.{METRIC_DECIMALS}f}"


def format_metric_line(metrics: dict[str, float], prefix: str = "") -> str:
    """One log line of ``key=value`` pairs, e.g. ``epoch=2/10 train_loss=0.412000 val_loss=...``."""
    parts = [prefix] if prefix else []
    parts += [f"{key}={format_metric_value(value)}" for key, value in metrics.items()]
    return " ".join(parts)


_METRIC_PAIR = re.compile(r"(?P<key>[A-Za-z_/0-9]+)=(?P<value>[0-9.]+)")


def parse_metric_line(line: str) -> dict[str, float]:
    """Read back every ``key=value`` metric pair of a log line (for tests and tooling)."""
    return {match["key"]: float(match["value"]) for match in _METRIC_PAIR.finditer(line)}
