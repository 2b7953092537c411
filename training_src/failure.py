"""One-line failure reports: stderr plus SageMaker's failure file."""

from __future__ import annotations

import os
import sys
from pathlib import Path


class TrainingError(Exception):
    """A problem with the job's data or settings, reported as one line without a traceback."""


def one_line(message: str) -> str:
    """Collapse all whitespace (newlines included) so the reason fits on one line."""
    return " ".join(message.split())


def failure_file_path() -> Path:
    """``<SAGEMAKER_BASE_DIR or /opt/ml>/output/failure``, whose text SageMaker shows as FailureReason."""
    return Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "output" / "failure"


def report_failure(message: str, overwrite: bool = True) -> str:
    """Print ``ERROR: <reason>`` to stderr and write the reason to the failure file.

    Args:
        message: the reason; collapsed to one line.
        overwrite: replace an existing failure file (rank 0) or keep it (other ranks).

    Returns:
        The one-line reason.
    """
    line = one_line(message)
    print(f"ERROR: {line}", file=sys.stderr, flush=True)
    path = failure_file_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if overwrite or not path.exists():
            path.write_text(line + "\n", encoding="utf-8")
    except OSError as error:
        print(f"WARNING: cannot write failure file {path}: {error}", file=sys.stderr, flush=True)
    return line
