"""Helpers for serving tests: ``model.tar.gz`` as a training job writes it, and the toolkit run on it.

"/opt/ml/model - Your algorithm should write all final model artifacts to this directory. SageMaker
AI copies this data as a single object in compressed tar format to the S3 location that you specified
in the CreateTrainingJob request." (How Amazon SageMaker AI Processes Training Output,
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html). Hosting
extracts that object into ``/opt/ml/model``; the toolkit finds it under ``$SAGEMAKER_BASE_DIR/model``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).resolve().with_name("serving_driver.py")


def model_tarball(model_dir: Path, out_file: Path) -> Path:
    """``model.tar.gz`` with the model directory's contents at the archive root, as the job uploads it."""
    with tarfile.open(out_file, "w:gz") as archive:
        for entry in sorted(model_dir.iterdir()):
            archive.add(entry, arcname=entry.name)
    return out_file


def extract_for_serving(tarball: Path, base_dir: Path) -> Path:
    """Extract ``tarball`` into ``<base_dir>/model`` (the container's ``/opt/ml/model``); returns that dir."""
    model_dir = base_dir / "model"
    model_dir.mkdir(parents=True)
    with tarfile.open(tarball, "r:gz") as archive:
        archive.extractall(model_dir, filter="data")
    return model_dir


def serving_env(base_dir: Path) -> dict[str, str]:
    """The container's serving environment for a model registered with the submit directory in the package.

    ``SAGEMAKER_PROGRAM`` and ``SAGEMAKER_SUBMIT_DIRECTORY`` are the model's env; ``PYTHONPATH`` is what
    the toolkit's ``torchserve._set_python_path`` sets before the workers start. Nothing else is inherited.
    """
    code_dir = base_dir / "model" / "code"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SAGEMAKER_BASE_DIR": str(base_dir),
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(code_dir),
        "PYTHONPATH": str(code_dir),
        "OMP_NUM_THREADS": "1",
    }


def serve(base_dir: Path, requests: dict[str, dict[str, Any]], scratch: Path) -> subprocess.CompletedProcess[str]:
    """Run ``serving_driver.py`` on the model under ``base_dir``; ``-P``: the driver's folder is not on sys.path."""
    requests_file = scratch / "requests.json"
    requests_file.write_text(json.dumps(requests), encoding="utf-8")
    command = [sys.executable, "-s", "-P", str(DRIVER), str(requests_file)]
    return subprocess.run(
        command, env=serving_env(base_dir), cwd=scratch, capture_output=True, text=True, timeout=120, check=False
    )


def request(
    body: str, content_type: str | None, accept: str | None = None, *, encoding: str = "utf-8"
) -> dict[str, Any]:
    """One InvokeEndpoint-like request: body (text, or base64 of bytes with ``encoding="base64"``), ContentType
    and Accept headers (None: header absent)."""
    return {"body": body, "encoding": encoding, "headers": {"Content-Type": content_type, "Accept": accept}}
