"""README "Training in a VPC": what the subnets of a ``network.subnet_ids`` stage need.

The premise is the toolkit's own code: the SageMaker training toolkit (``sagemaker_training``, the one
the PyTorch training image runs) installs ``requirements.txt`` from the code directory with pip before
the entry point, using pip's default index unless ``CA_REPOSITORY_ARN`` names a CodeArtifact repository
(``sagemaker_training/modules.py``, ``install_requirements``). VPC endpoints reach AWS services, not
PyPI ("Give SageMaker AI Training Jobs Access to Resources in Your Amazon VPC", SageMaker developer
guide, https://docs.aws.amazon.com/sagemaker/latest/dg/train-vpc.html: resources outside the VPC need a
NAT gateway), so the README must say how to get the packages.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()


def vpc_section() -> str:
    match = re.search(r"^### Training in a VPC.*?(?=^### )", README, re.MULTILINE | re.DOTALL)
    assert match, "README has no 'Training in a VPC' section"
    return " ".join(match.group(0).split())


def test_the_toolkit_pip_installs_requirements_before_the_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sagemaker_training import entry_point, modules, process

    (tmp_path / "requirements.txt").write_text((PROJECT_ROOT / "training_src" / "requirements.txt").read_text())
    (tmp_path / "train.py").write_text("")
    commands: list[Any] = []
    monkeypatch.delenv(modules.CA_REPOSITORY_ARN_ENV, raising=False)
    monkeypatch.setattr(process, "check_error", lambda cmd, *args, **kwargs: commands.append(cmd))
    # The toolkit puts the code folder on sys.path and imports the entry point; keep that empty `train`
    # module out of the rest of this process (the trainer's tests import the real one).
    monkeypatch.setattr(sys, "path", [*sys.path])
    previous = sys.modules.get("train")
    try:
        entry_point.install("train.py", str(tmp_path))
    finally:
        sys.modules.pop("train", None)
        if previous is not None:
            sys.modules["train"] = previous
    assert [shlex.join(cmd[1:]) for cmd in commands] == ["-m pip install -r requirements.txt"]  # no index: PyPI
    assert any(line.strip() for line in (PROJECT_ROOT / "training_src" / "requirements.txt").read_text().splitlines())


@pytest.mark.parametrize(
    "needed",
    [
        "com.amazonaws.<region>.s3",
        "com.amazonaws.<region>.ecr.api",
        "com.amazonaws.<region>.ecr.dkr",
        "com.amazonaws.<region>.logs",
        "com.amazonaws.<region>.sts",
        "NAT gateway",
        "private mirror",
        "Endpoints alone do not reach PyPI.",
        "bake the packages into the image",
        "leave `training_src/requirements.txt` empty",
        "allows traffic between the job's own instances",
        "UDP 500 and protocol 50 (ESP)",
    ],
)
def test_the_readme_says_what_the_subnets_need(needed: str) -> None:
    assert needed in vpc_section()
