"""Stage operations for the Makefile: trainer arguments, data upload, pipeline start.

``train-args`` is offline; ``upload-data`` and ``start`` call AWS with the credentials
in use and read the deployed stack's outputs to find the bucket and the pipeline.

    python -m ops.cli train-args --stage dev
    python -m ops.cli train-local --stage dev --data-dir local_data --output-dir local_output
    python -m ops.cli upload-data --stage dev --from-dir local_data
    python -m ops.cli start --stage dev
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from constructs_lib.config.cdk_json import read_cdk_json_context
from constructs_lib.config.errors import ConfigError
from constructs_lib.config.stage_config import StageConfig, load_stages
from training_src import contract

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACK_PREFIX = "SageMakerTraining-"


def load_stage(name: str, cdk_json: Path = PROJECT_ROOT / "cdk.json") -> StageConfig:
    """The validated config of one stage from ``cdk.json``."""
    (stage,) = load_stages(read_cdk_json_context(cdk_json), selected=name, source=cdk_json.name)
    return stage


def trainer_arguments(stage: StageConfig) -> list[str]:
    """The ``--name value`` arguments SageMaker passes to the entry point for this stage."""
    arguments: list[str] = []
    for name, value in stage.hyperparameters.serialize_config().items():
        arguments += [f"--{name}", value]
    return arguments


def train_locally(stage: StageConfig, data_dir: Path, output_dir: Path) -> int:
    """Run the entry point on this machine with the stage's hyperparameters, laid out like SageMaker."""
    env = dict(os.environ)
    for channel in contract.CHANNELS:
        env[f"SM_CHANNEL_{channel.upper()}"] = str(data_dir / channel)
    env.update(
        SM_MODEL_DIR=str(output_dir / "model"),
        SM_OUTPUT_DATA_DIR=str(output_dir / "output"),
        CHECKPOINT_DIR=str(output_dir / "checkpoints"),
        SAGEMAKER_BASE_DIR=str(output_dir),
    )
    entry_point = PROJECT_ROOT / stage.model.source_dir / stage.model.entry_point
    command = [sys.executable, str(entry_point), *trainer_arguments(stage)]
    print("$", shlex.join(command), flush=True)
    return subprocess.run(command, env=env, check=False).returncode


def _stack_outputs(stage: StageConfig) -> dict[str, str]:
    import boto3  # noqa: PLC0415  # lazy: only the AWS-facing commands need it

    client = boto3.client("cloudformation", region_name=stage.region)
    (stack,) = client.describe_stacks(StackName=f"{STACK_PREFIX}{stage.name}")["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def upload_data(stage: StageConfig, from_dir: Path) -> None:
    """Upload ``<from_dir>/<channel>/<channel>.parquet`` to the stage's input prefix."""
    import boto3  # noqa: PLC0415  # lazy: only the AWS-facing commands need it

    bucket = _stack_outputs(stage)["DataBucketName"]
    s3: Any = boto3.client("s3", region_name=stage.region)
    for channel in contract.CHANNELS:
        local = from_dir / contract.channel_object_key(channel)
        if not local.is_file():
            raise ConfigError(f"{local}: missing; expected {contract.channel_object_key(channel)} under {from_dir}")
        key = f"{stage.input_prefix}/{contract.channel_object_key(channel)}"
        s3.upload_file(str(local), bucket, key)
        print(f"uploaded {local} -> s3://{bucket}/{key}")


def start_pipeline(stage: StageConfig) -> None:
    """Start one execution of the stage's pipeline and print its ARN."""
    import boto3  # noqa: PLC0415  # lazy: only the AWS-facing commands need it

    client: Any = boto3.client("sagemaker", region_name=stage.region)
    response = client.start_pipeline_execution(PipelineName=stage.resolved_pipeline_name)
    print(response["PipelineExecutionArn"])


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; config errors exit 2 with a one-line reason."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("train-args", "train-local", "upload-data", "start"):
        sub = commands.add_parser(command)
        sub.add_argument("--stage", required=True)
        if command == "upload-data":
            sub.add_argument("--from-dir", type=Path, required=True)
        if command == "train-local":
            sub.add_argument("--data-dir", type=Path, default=Path("local_data"))
            sub.add_argument("--output-dir", type=Path, default=Path("local_output"))
    args = parser.parse_args(argv)
    try:
        stage = load_stage(args.stage)
        if args.command == "train-args":
            print(shlex.join(trainer_arguments(stage)))
        elif args.command == "train-local":
            return train_locally(stage, args.data_dir, args.output_dir)
        elif args.command == "upload-data":
            upload_data(stage, args.from_dir)
        else:
            start_pipeline(stage)
    except ConfigError as error:
        print(f"Invalid configuration:\n{error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
