"""The operator CLI behind the Makefile's stage targets: argument parsing and dispatch only.

Each command's logic lives in its own module (``start``, ``follow``, ``models``, ``upload``,
``train_local``, ``preflight``, ``doctor``). Every failure ends as ONE line on stderr that names the
stage and what to do, never a traceback: configuration errors exit 2, AWS and operator errors exit 1.
Checks that need no AWS call (PARAMS, FROM) run before any that does.

    python -m ops.cli doctor --stage dev [--for deploy|start|all]
    python -m ops.cli check-credentials --stage dev
    python -m ops.cli train-local --stage prod [--resume]
    python -m ops.cli upload-data --stage dev --from-dir local_data [--to s3://<bucket>/training-data/2024-06]
    python -m ops.cli start --stage dev [--params "QualityThreshold=0.8"] [--follow]
    python -m ops.cli follow --stage dev [--execution ARN]
    python -m ops.cli models --stage dev
    python -m ops.cli approve --stage dev --version 3 [--reason "..."]
    python -m ops.cli reject --stage dev --version 3 --reason "..."
    python -m ops.cli deploy-model --stage dev --version 3
    python -m ops.cli endpoint --stage dev
    python -m ops.cli invoke --stage dev --file rows.csv
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from constructs_lib.config.errors import ConfigError
from constructs_lib.config.stage_config import StageConfig
from ops import doctor, endpoint, follow, invoke, models, preflight, start, train_local, upload
from ops.aws import OperatorError, StageAws, aws_errors
from ops.params import parse_assignments
from ops.stages import load_stage

Handler = Callable[[StageConfig, argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the usage block first)."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: <message>`` and exit 2."""
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def positive_int(text: str) -> int:
    """A model version number: 1, 2, ..."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"VERSION must be a version number such as 3 (got {text!r})")
    return int(text)


def _credentials(stage: StageConfig, args: argparse.Namespace) -> int:
    print(preflight.check_credentials(StageAws(stage)))
    return 0


def _train_args(stage: StageConfig, args: argparse.Namespace) -> int:
    print(shlex.join(train_local.trainer_arguments(stage)))
    return 0


def _train_local(stage: StageConfig, args: argparse.Namespace) -> int:
    if args.sample_data:
        train_local.ensure_sample_data(args.data_dir, sys.stdout)
    return train_local.train_locally(stage, args.data_dir, args.output_dir, args.resume, sys.stdout)


def _doctor(stage: StageConfig, args: argparse.Namespace) -> int:
    checks = doctor.CHECKS[args.checks]
    return doctor.run_checks(StageAws(stage), checks, sys.stdout, sys.stderr, assembly=args.assembly)


def _upload(stage: StageConfig, args: argparse.Namespace) -> int:
    from_dir = upload.check_from_dir(args.from_dir, must_exist=not args.sample_data)  # before any AWS call
    sample = functools.partial(train_local.ensure_sample_data, from_dir, sys.stdout) if args.sample_data else None
    return upload.upload_data(StageAws(stage), from_dir, args.to or None, sys.stdout, prepare=sample)


def _start(stage: StageConfig, args: argparse.Namespace) -> int:
    parse_assignments(args.params)  # PARAMS' syntax, before any AWS call
    aws = StageAws(stage)
    if doctor.run_checks(aws, doctor.CHECKS["start"], sys.stdout, sys.stderr) != 0:
        return 1
    then = functools.partial(follow.follow_execution, interval=args.interval) if args.follow else None
    return start.start_pipeline(aws, args.params, sys.stdout, then)


def _follow(stage: StageConfig, args: argparse.Namespace) -> int:
    aws = StageAws(stage)
    arn = args.execution or follow.latest_execution(aws)
    return follow.follow_execution(aws, arn, sys.stdout, interval=args.interval)


def _models(stage: StageConfig, args: argparse.Namespace) -> int:
    return models.show_models(StageAws(stage), sys.stdout, args.limit)


def _approval(status: str) -> Handler:
    def handler(stage: StageConfig, args: argparse.Namespace) -> int:
        return models.set_approval(StageAws(stage), args.version, status, args.reason, sys.stdout)

    return handler


def _deploy_model(stage: StageConfig, args: argparse.Namespace) -> int:
    return endpoint.deploy_model(StageAws(stage), args.version, sys.stdout)


def _endpoint(stage: StageConfig, args: argparse.Namespace) -> int:
    return endpoint.show_endpoint(StageAws(stage), sys.stdout)


def _invoke(stage: StageConfig, args: argparse.Namespace) -> int:
    return invoke.invoke(StageAws(stage), args.file, sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per operator action."""
    parser = OneLineParser(prog="ops.cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--stage", required=True, help="stage name in cdk.json (STAGE)")
        sub.set_defaults(handler=handler)
        return sub

    sub = command("doctor", _doctor, "preflight: credentials, CDK bootstrap, training quota, deployed stack")
    sub.add_argument("--for", dest="checks", choices=sorted(doctor.CHECKS), default="all", help="which checks")
    sub.add_argument("--assembly", type=Path, default=doctor.ASSEMBLY, help="the synthesized cloud assembly")
    command("check-credentials", _credentials, "check the AWS credentials (and the stage's pinned account)")
    command("train-args", _train_args, "print the trainer arguments of the stage")
    sub = command("train-local", _train_local, "train on this machine with the stage's hyperparameters")
    sub.add_argument("--data-dir", type=Path, default=Path("local_data"))
    sub.add_argument("--output-dir", type=Path, default=Path("local_output"))
    sub.add_argument("--resume", action="store_true", help="continue from earlier checkpoints (RESUME=1)")
    sub.add_argument("--sample-data", action="store_true", help="generate the synthetic sample if data-dir has none")
    sub = command("upload-data", _upload, "check, then upload <from-dir>/<channel>/**/*.parquet")
    sub.add_argument("--from-dir", required=True, help="local folder with one subfolder per channel (FROM)")
    sub.add_argument("--to", default="", help="an s3:// folder under the stage's input root (TO)")
    sub.add_argument("--sample-data", action="store_true", help="generate the synthetic sample if from-dir has none")
    sub = command("start", _start, "check parameters and data, then start one pipeline execution")
    sub.add_argument("--params", default="", help='"Name=value ..." (PARAMS)')
    sub.add_argument("--follow", action="store_true", help="follow the execution until it ends (FOLLOW=1)")
    sub.add_argument("--interval", type=float, default=follow.POLL_SECONDS, help=argparse.SUPPRESS)
    sub = command("follow", _follow, "follow an execution (default: the latest) until it ends")
    sub.add_argument("--execution", default="", help="pipeline execution ARN (EXECUTION)")
    sub.add_argument("--interval", type=float, default=follow.POLL_SECONDS, help="seconds between polls")
    sub = command("models", _models, "list the model package group's versions")
    sub.add_argument("--limit", type=int, default=models.DEFAULT_LIMIT, help="newest N versions; 0 for all (LIMIT)")
    for name, status in (("approve", "Approved"), ("reject", "Rejected")):
        sub = command(name, _approval(status), f"set a model version's approval status to {status}")
        sub.add_argument("--version", type=positive_int, required=True, help="version number (VERSION)")
        sub.add_argument("--reason", default="", help="why; kept as ApprovalDescription (REASON)")
    sub = command("deploy-model", _deploy_model, "deploy an approved version to the stage's endpoint (rollbacks too)")
    sub.add_argument("--version", type=positive_int, required=True, help="version number (VERSION)")
    command("endpoint", _endpoint, "show the endpoint's status, model version and recent invocation errors")
    sub = command("invoke", _invoke, "send rows (.csv or .json) to the endpoint and print the probabilities")
    sub.add_argument("--file", type=Path, required=True, help="rows.csv (no header) or records.json (FILE)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the parsed command for its stage, with AWS failures turned into ``OperatorError``."""
    stage = load_stage(args.stage)
    handler: Handler = args.handler
    with aws_errors(stage.region):
        return handler(stage, args)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; every failure is one line on stderr."""
    args: Any = build_parser().parse_args(argv)
    try:
        return run(args)
    except ConfigError as error:
        print(f"error: invalid configuration: {error}", file=sys.stderr)
        return 2
    except OperatorError as error:
        print(f"error: stage {args.stage}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
