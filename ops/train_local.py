"""``make train-local``: the stage's trainer on this machine, laid out as SageMaker lays it out.

A rerun used to resume from ``local_output/checkpoints`` after only the learning rate changed: it
printed "continuing with epoch 6/5", trained nothing and rewrote the model. Now a run starts fresh
unless RESUME=1: the trainer's ``--fresh`` moves earlier checkpoints aside (never deleted) with a
one-line note. With RESUME=1 they are used, and the trainer itself sets aside a checkpoint whose
settings differ.
``STAGE`` picks whose hyperparameters are used. The synthetic sample is generated only when the
data folder has none, and an operator's own data there is never overwritten.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from constructs_lib.config.default_trainer import default_trainer
from constructs_lib.config.stage_config import StageConfig
from ops.aws import OperatorError
from ops.stages import PROJECT_ROOT
from training_src import contract

SAMPLE_GENERATOR = PROJECT_ROOT / "training_src" / "synthetic_data.py"
Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


def trainer_arguments(stage: StageConfig) -> list[str]:
    """The ``--name value`` arguments SageMaker passes to the entry point for this stage."""
    arguments: list[str] = []
    for name, value in stage.hyperparameters.serialize_config().items():
        arguments += [f"--{name}", value]
    return arguments


def has_data(data_dir: Path, channel: str) -> bool:
    """Whether ``<data_dir>/<channel>/`` holds a parquet file."""
    return any((data_dir / channel).rglob("*.parquet"))


def ensure_sample_data(data_dir: Path, out: TextIO, run: Runner = subprocess.run) -> None:
    """Generate the synthetic sample into ``data_dir`` unless it holds data already.

    Raises:
        OperatorError: when ``data_dir`` holds some channels but not every required one.
    """
    present = [channel for channel in contract.CHANNELS if has_data(data_dir, channel)]
    missing = [channel for channel in contract.REQUIRED_CHANNELS if channel not in present]
    if present and not missing:
        print(f"using the data in {data_dir}/ ({', '.join(present)}); delete it to regenerate the sample", file=out)
        return
    if present:
        raise OperatorError(
            f"{data_dir}/ has {', '.join(present)} but no {', '.join(missing)} data; add it, or delete "
            f"{data_dir}/ to generate the synthetic sample there"
        )
    print(f"generating the synthetic sample dataset in {data_dir}/", file=out, flush=True)
    result = run([sys.executable, str(SAMPLE_GENERATOR), "--out-dir", str(data_dir)], check=False)
    if result.returncode != 0:
        raise OperatorError(f"generating the sample dataset failed (exit {result.returncode}); see above")


def train_locally(
    stage: StageConfig, data_dir: Path, output_dir: Path, resume: bool, out: TextIO, *, run: Runner = subprocess.run
) -> int:
    """Run the entry point with the stage's hyperparameters; returns the trainer's exit status."""
    env = dict(os.environ)
    for channel in contract.CHANNELS:
        env.pop(f"SM_CHANNEL_{channel.upper()}", None)
    for channel in stage.channels:  # as in AWS: only the stage's declared channels reach the trainer
        env[f"SM_CHANNEL_{channel.upper()}"] = str(data_dir / channel)
    env.update(
        SM_MODEL_DIR=str(output_dir / "model"),
        SM_OUTPUT_DATA_DIR=str(output_dir / "output"),
        CHECKPOINT_DIR=str(output_dir / "checkpoints"),
        SAGEMAKER_BASE_DIR=str(output_dir),
    )
    model = stage.model
    print(
        f"stage {stage.name}: its hyperparameters, in 1 local process (the stage trains on "
        f"{model.instance_count} x {model.instance_type})",
        file=out,
    )
    trainer = default_trainer()
    command = [sys.executable, str(trainer.source_dir / trainer.entry_point), *trainer_arguments(stage)]
    if resume:
        print("RESUME=1: continuing from local checkpoints of these settings, if any", file=out)
    else:
        command.append("--fresh")  # the trainer moves earlier checkpoints to <dir>/set-aside/<time>/
    print("$", shlex.join(command), file=out, flush=True)
    return int(run(command, env=env, check=False).returncode)
