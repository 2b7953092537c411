"""Command line parsing: the contract's hyperparameters plus a few trainer-only flags.

SageMaker passes every hyperparameter as ``--name value`` where ``value`` is the string
``contract.serialize_value`` produced, so each argument is parsed with ``contract.parse_value``
and checked against the spec's range.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import contract
from failure import TrainingError

TRAINER_FLAGS = ("dry_run", "max_steps_per_epoch", "pause_after_epoch", "fresh")
"""Destinations of the trainer-only flags; none may be a hyperparameter name."""

DRY_RUN_STEPS = 3


class HyperparameterError(TrainingError):
    """An unknown, unparsable or out-of-range hyperparameter."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise HyperparameterError(f"invalid hyperparameters: {message}")


def check_range(spec: contract.HyperparameterSpec, value: Any) -> None:
    """Raise ``ValueError`` naming the hyperparameter when ``value`` (or a list item) is out of range."""
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"hyperparameter {spec.name}: {value!r} is not one of {', '.join(spec.choices)}")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, (bool, str)):
            continue
        number = float(item)
        problem = None
        if not math.isfinite(number):
            problem = "must be finite"
        elif spec.minimum is not None and number < spec.minimum:
            problem = f"must be >= {spec.minimum}"
        elif spec.maximum is not None and number > spec.maximum:
            problem = f"must be <= {spec.maximum}"
        elif spec.exclusive_minimum is not None and number <= spec.exclusive_minimum:
            problem = f"must be > {spec.exclusive_minimum}"
        elif spec.exclusive_maximum is not None and number >= spec.exclusive_maximum:
            problem = f"must be < {spec.exclusive_maximum}"
        if problem:
            raise ValueError(f"hyperparameter {spec.name}: {item!r} {problem}")


def _converter(spec: contract.HyperparameterSpec) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = contract.parse_value(spec, text)
            check_range(spec, value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    convert.__name__ = spec.kind
    return convert


def build_parser(specs: Sequence[contract.HyperparameterSpec] = contract.HYPERPARAMETERS) -> argparse.ArgumentParser:
    """An argument parser with one ``--<name>`` option per hyperparameter spec and the trainer-only flags."""
    clashes = {spec.name for spec in specs} & set(TRAINER_FLAGS)
    if clashes:
        raise ValueError(f"trainer flags collide with hyperparameters: {sorted(clashes)}")
    parser = _Parser(description="Train a binary MLP classifier on parquet channels.", allow_abbrev=False)
    group = parser.add_argument_group("hyperparameters (values as contract.serialize_value writes them)")
    for spec in specs:
        default = list(spec.default) if isinstance(spec.default, list) else spec.default
        group.add_argument(f"--{spec.name}", type=_converter(spec), default=default, help=spec.description)
    flags = parser.add_argument_group("trainer-only flags")
    flags.add_argument("--dry-run", action="store_true", help=f"only {DRY_RUN_STEPS} training steps per epoch")
    flags.add_argument("--max-steps-per-epoch", type=int, default=0, help="cap training steps per epoch (0: none)")
    flags.add_argument(
        "--pause-after-epoch", type=float, default=0.0, help="seconds to sleep after each epoch (interruption tests)"
    )
    flags.add_argument(
        "--fresh",
        action="store_true",
        help="do not resume: move existing checkpoints into <checkpoint dir>/set-aside/ and start at epoch 1",
    )
    return parser


def join_values(argv: Sequence[str], specs: Sequence[contract.HyperparameterSpec]) -> list[str]:
    """Turn each ``--name value`` pair into ``--name=value`` so values such as ``-x`` or ``""`` stay values."""
    options = {f"--{spec.name}" for spec in specs}
    joined: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token in options and index + 1 < len(argv):
            joined.append(f"{token}={argv[index + 1]}")
            index += 2
        else:
            joined.append(token)
            index += 1
    return joined


def parse_args(
    argv: Sequence[str] | None = None, specs: Sequence[contract.HyperparameterSpec] = contract.HYPERPARAMETERS
) -> argparse.Namespace:
    """Parse the command line (default ``sys.argv[1:]``); raises ``HyperparameterError`` with a one-line reason."""
    tokens = sys.argv[1:] if argv is None else argv
    args = build_parser(specs).parse_args(join_values(tokens, specs))
    if args.dry_run and not args.max_steps_per_epoch:
        args.max_steps_per_epoch = DRY_RUN_STEPS
    if args.max_steps_per_epoch < 0 or args.pause_after_epoch < 0:
        raise HyperparameterError("invalid trainer flags: --max-steps-per-epoch and --pause-after-epoch must be >= 0")
    return args


def hyperparameters_of(args: argparse.Namespace) -> dict[str, Any]:
    """The hyperparameter values of parsed arguments, in contract order."""
    return {spec.name: getattr(args, spec.name) for spec in contract.HYPERPARAMETERS}
