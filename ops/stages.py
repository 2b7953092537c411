"""Which stage an operator command is about: its validated config from ``cdk.json`` and the names
that follow from it (stack, input root), so every command derives them the same way.
"""

from __future__ import annotations

from pathlib import Path

from constructs_lib.config.cdk_json import read_cdk_json_context
from constructs_lib.config.stage_config import StageConfig, load_stages

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACK_PREFIX = "SageMakerTraining-"


def load_stage(name: str, cdk_json: Path = PROJECT_ROOT / "cdk.json") -> StageConfig:
    """The validated config of one stage from ``cdk.json``.

    Raises:
        ConfigError: when the file or the stage is invalid, or no such stage exists.
    """
    (stage,) = load_stages(read_cdk_json_context(cdk_json), selected=name, source=cdk_json.name)
    return stage


def stack_name(stage: StageConfig) -> str:
    """The CloudFormation stack of the stage, e.g. ``SageMakerTraining-dev``."""
    return f"{STACK_PREFIX}{stage.name}"


def input_root(stage: StageConfig, data_bucket: str) -> str:
    """``s3://<data bucket>/<input_prefix>``: the only place the training role may read."""
    return f"s3://{data_bucket}/{stage.input_prefix}"


def make_hint(target: str, stage: StageConfig, extra: str = "") -> str:
    """The make command an operator runs next, e.g. ``make deploy STAGE=dev``."""
    return f"`make {target} STAGE={stage.name}{' ' + extra if extra else ''}`"
