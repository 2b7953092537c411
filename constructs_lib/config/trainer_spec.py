"""What a trainer declares to the pipeline: its code, hyperparameters, channels, metrics and gate.

The pipeline builder knows a trainer only through a ``TrainerSpec``: which folder to bundle and
which script to run, which hyperparameters it takes (so a stage's values are checked against the
trainer's own names, types and ranges), which channels it reads, which log lines SageMaker scrapes
into metrics, and which metric the quality gate compares. The bundled trainer's spec
(``constructs_lib.config.default_trainer``) is only the default value of this prop.

The limits checked here are the API's, so a bad spec fails at synth instead of at
CreateTrainingJob (SageMaker API Reference, CreateTrainingJob and AlgorithmSpecification,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_MetricDefinition.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, field_validator, model_validator

from constructs_lib.config.errors import FieldError
from constructs_lib.config.hyperparameters import (
    Hyperparameter,
    HyperparametersBase,
    hyperparameters_model,
    infer_hyperparameter,
)
from constructs_lib.config.strict_model import StrictModel

CHANNEL_NAME_PATTERN = r"^[A-Za-z0-9\.\-_]{1,64}$"
"""Channel.ChannelName: ``[A-Za-z0-9\\.\\-_]+``, at most 64 characters."""
HYPERPARAMETER_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]{0,255}$"
"""Passed to the script as ``--<name> <value>``: a name argparse reads, at most 256 characters (the API's key limit)."""
MAX_CHANNELS = 20
"""CreateTrainingJob.InputDataConfig: at most 20 channels."""
MAX_METRIC_DEFINITIONS = 40
"""AlgorithmSpecification.MetricDefinitions: at most 40."""
MAX_METRIC_NAME_LENGTH = 255
MAX_METRIC_REGEX_LENGTH = 500
MAX_USER_HYPERPARAMETERS = 90
"""CreateTrainingJob takes at most 100 hyperparameters; the SDK adds its own ``sagemaker_*`` entries."""
RESERVED_PREFIX = "sagemaker_"
DEFAULT_CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
"""SageMaker's default ``CheckpointConfig.LocalPath``."""


class TrainerSpec(StrictModel):
    """A trainer: its code, hyperparameters, channels, metric log lines and quality gate."""

    source_dir: Path = Field(
        ...,
        description="Folder packaged as the code bundle (relative paths are read from the directory synth runs in).",
    )
    entry_point: str = Field(
        ..., pattern=r"^[A-Za-z0-9_\-]+\.py$", description="Python file at the root of source_dir that SageMaker runs."
    )
    hyperparameters: dict[str, Hyperparameter] = Field(
        default_factory=dict,
        description="Name -> a `Hyperparameter`, or just its default value (the kind is then its JSON type).",
    )
    required_channels: tuple[str, ...] = Field(..., description="Channels every stage must declare.")
    optional_channels: tuple[str, ...] = Field((), description="Channels a stage may leave out.")
    metric_definitions: dict[str, str] = Field(
        ...,
        min_length=1,
        description="Metric Name -> regex with exactly one group, applied by SageMaker to every log line.",
    )
    metric_channels: dict[str, str] = Field(
        default_factory=dict,
        description="Metric Name -> the channel without which the trainer does not log it.",
    )
    final_metrics: tuple[str, ...] = Field(
        (),
        description="Metrics logged once, for the model that is saved; recorded on every registered version.",
    )
    gate_metric: tuple[str, ...] = Field(
        ...,
        min_length=1,
        description="Metric Name the quality gate compares (>= threshold); a list means the first whose channel "
        "the stage declares.",
    )
    quality_threshold: float = Field(..., description="Default of the QualityThreshold parameter.")
    checkpoint_local_path: str = Field(
        DEFAULT_CHECKPOINT_LOCAL_PATH, description="Container folder SageMaker syncs checkpoints from."
    )
    serving_min_python: str | None = Field(
        None,
        pattern=r"^py3\d+$",
        description="Oldest Python the trainer's serving code (code/inference.py in model.tar.gz) runs on, e.g. "
        "`py310`: registry.inference_py_version must not be older.",
    )

    _hyperparameters_model: Any = PrivateAttr(default=None)

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _infer_kinds(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {name: infer_hyperparameter(item) for name, item in value.items()}
        return value

    @field_validator("gate_metric", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("hyperparameters")
    @classmethod
    def _check_hyperparameter_names(cls, value: dict[str, Hyperparameter]) -> dict[str, Hyperparameter]:
        if len(value) > MAX_USER_HYPERPARAMETERS:
            raise ValueError(f"{len(value)} hyperparameters; at most {MAX_USER_HYPERPARAMETERS} (CreateTrainingJob)")
        for name in value:
            if not re.match(HYPERPARAMETER_NAME_PATTERN, name):
                raise FieldError(name, f"must match {HYPERPARAMETER_NAME_PATTERN} (the script reads --{name})")
            if name.startswith(RESERVED_PREFIX):
                raise FieldError(name, f"names starting with {RESERVED_PREFIX} are the SageMaker SDK's own")
        return value

    @field_validator("metric_definitions")
    @classmethod
    def _check_regexes(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_METRIC_DEFINITIONS:
            raise ValueError(f"{len(value)} metrics; SageMaker takes at most {MAX_METRIC_DEFINITIONS}")
        for name, regex in value.items():
            if not name.strip() or len(name) > MAX_METRIC_NAME_LENGTH:
                raise FieldError(repr(name), f"a metric Name has 1 to {MAX_METRIC_NAME_LENGTH} characters")
            if not regex or len(regex) > MAX_METRIC_REGEX_LENGTH:
                raise FieldError(name, f"the regex has 1 to {MAX_METRIC_REGEX_LENGTH} characters")
            try:
                groups = re.compile(regex).groups
            except re.error as error:
                raise FieldError(name, f"regex {regex!r} does not compile: {error}") from None
            if groups != 1:
                raise FieldError(
                    name, f"regex {regex!r} has {groups} groups; SageMaker reads the value from exactly one group"
                )
        return value

    @field_validator("quality_threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> TrainerSpec:
        self._check_channels()
        names = set(self.metric_definitions)
        for field, used in (
            ("gate_metric", self.gate_metric),
            ("final_metrics", self.final_metrics),
            ("metric_channels", tuple(self.metric_channels)),
        ):
            unknown = [name for name in used if name not in names]
            if unknown:
                raise FieldError(field, f"{', '.join(map(repr, unknown))} not in metric_definitions; valid: "
                                 f"{', '.join(map(repr, self.metric_definitions))}")  # fmt: skip
        for metric, channel in self.metric_channels.items():
            if channel not in self.channels:
                raise FieldError(f"metric_channels.{metric}", f"{channel!r} is not a channel; valid: "
                                 f"{', '.join(self.channels)}")  # fmt: skip
        self._check_source()
        return self

    def _check_channels(self) -> None:
        channels = self.channels
        if not channels:
            raise FieldError("required_channels", "a trainer reads at least one channel")
        if len(channels) > MAX_CHANNELS:
            raise FieldError("optional_channels", f"{len(channels)} channels; at most {MAX_CHANNELS}")
        if len(set(channels)) != len(channels):
            raise FieldError("optional_channels", "a channel is listed twice (required and optional together)")
        bad = [channel for channel in channels if not re.match(CHANNEL_NAME_PATTERN, channel)]
        if bad:
            raise FieldError("required_channels", f"{', '.join(map(repr, bad))}: must match {CHANNEL_NAME_PATTERN}")

    def _check_source(self) -> None:
        if not self.source_dir.is_dir():
            raise FieldError("source_dir", f"{str(self.source_dir)!r} is not a folder (from {Path.cwd()})")
        if not (self.source_dir / self.entry_point).is_file():
            raise FieldError(
                "entry_point",
                f"{self.entry_point!r} is not a file at the root of {self.source_dir}; the entry point must be "
                "a file directly inside source_dir",
            )

    def hyperparameters_model(self) -> type[HyperparametersBase]:
        """The pydantic model a stage's hyperparameter values are validated with (built once per spec)."""
        if self._hyperparameters_model is None:
            self._hyperparameters_model = hyperparameters_model(
                self.hyperparameters,
                doc="Hyperparameters of the trainer, generated from its spec (training_src/contract.py "
                "for the bundled trainer).",
            )
        model: type[HyperparametersBase] = self._hyperparameters_model
        return model

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel the trainer reads: the required ones, then the optional ones."""
        return self.required_channels + self.optional_channels

    def available_metrics(self, channels: tuple[str, ...]) -> tuple[str, ...]:
        """Metric Names the trainer logs when the stage declares ``channels``."""
        return tuple(
            name
            for name in self.metric_definitions
            if name not in self.metric_channels or self.metric_channels[name] in channels
        )

    def gate_metric_for(self, channels: tuple[str, ...]) -> str:
        """The first gate metric the trainer logs with ``channels``.

        Raises:
            FieldError: when none is logged with these channels (``channels``).
        """
        available = self.available_metrics(channels)
        for name in self.gate_metric:
            if name in available:
                return name
        raise FieldError(
            "channels",
            f"the gate metric ({', '.join(self.gate_metric)}) needs channel "
            f"{', '.join(sorted({self.metric_channels[name] for name in self.gate_metric}))}; declare it",
        )

    def recorded_metrics_for(self, channels: tuple[str, ...]) -> tuple[str, ...]:
        """Metrics recorded on each registered version: the final ones logged with ``channels``, and the gate's."""
        available = self.available_metrics(channels)
        recorded = [name for name in self.final_metrics if name in available]
        gate = self.gate_metric_for(channels)
        return tuple(recorded if gate in recorded else [*recorded, gate])


def _listing(names: tuple[str, ...] | list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"


def channels_problem(trainer: TrainerSpec, channels: list[str] | tuple[str, ...]) -> str | None:
    """Why ``channels`` is not a valid selection of the trainer's channels (None: valid)."""
    unknown = [channel for channel in channels if channel not in trainer.channels]
    missing = [channel for channel in trainer.required_channels if channel not in channels]
    if not (unknown or missing or len(set(channels)) != len(channels) or not channels):
        return None
    rule = f"{_listing(trainer.required_channels)} always" if trainer.required_channels else "at least one"
    if trainer.optional_channels:
        rule += f", {_listing(trainer.optional_channels)} optional"
    return f"must name each channel once: {rule}; valid: {', '.join(trainer.channels)}"


def serving_python_problem(trainer: TrainerSpec, inference_py_version: str) -> FieldError | None:
    """Why the registered inference image's Python cannot run the trainer's serving code (None: it can)."""
    oldest = trainer.serving_min_python
    if oldest is None or int(inference_py_version.removeprefix("py3") or 0) >= int(oldest.removeprefix("py3")):
        return None
    return FieldError(
        "registry.inference_py_version",
        f"{inference_py_version!r} is older than the serving code supports (Python 3.{oldest.removeprefix('py3')}+: "
        f"{oldest} or later)",
    )
