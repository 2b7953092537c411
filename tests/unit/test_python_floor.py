"""The Python floor: derived from the pins' Requires-Python, offline, never from a hand-kept constant."""

from __future__ import annotations

from pathlib import Path

import pytest

from constructs_lib.config import python_floor
from constructs_lib.config.python_floor import PROJECT_REQUIREMENTS, floor_problem, main, read_pins

SHOWN = "training_src/requirements.txt"


def test_the_record_matches_the_installed_pins() -> None:
    """``requires_python.json`` is what the installed distributions say (``make test`` installs the pins)."""
    assert main(["--check"]) == 0
    assert {pin.key for pin in read_pins(PROJECT_REQUIREMENTS, "py312")} <= set(python_floor._recorded())


def test_py310_cannot_install_the_trainer_requirements() -> None:
    """The issue's case: framework_version 2.2.0 has only py310, and pyarrow and matplotlib need 3.11."""
    field, detail = floor_problem(PROJECT_REQUIREMENTS, SHOWN, "py310", "us-east-1") or ("", "")
    assert field == "model.py_version"
    assert detail.startswith(f"py310 cannot pip install {SHOWN}: pyarrow==")
    assert "needs Python >=3.11" in detail and "matplotlib==" in detail and "torchmetrics" not in detail
    assert "2.8.0/py312" in detail and "2.2.0/py310" not in detail
    assert floor_problem(PROJECT_REQUIREMENTS, SHOWN, "py312", "us-east-1") is None


def test_a_machine_without_the_packages_reads_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """``make synth`` installs only the runtime packages: the record answers instead of the metadata."""
    monkeypatch.setattr(python_floor, "_installed_requires_python", lambda name, version: None)
    assert floor_problem(PROJECT_REQUIREMENTS, SHOWN, "py310", "us-east-1") is not None
    assert floor_problem(PROJECT_REQUIREMENTS, SHOWN, "py311", "us-east-1") is None


def test_an_unknown_pin_says_how_to_make_it_known(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("no-such-dist-for-tests==1.0.0\n")
    field, detail = floor_problem(requirements, "src/requirements.txt", "py312", "us-east-1") or ("", "")
    assert field == "trainer.source_dir"
    assert "no-such-dist-for-tests==1.0.0, whose Requires-Python synth cannot read offline" in detail
    assert "python_floor --write src/requirements.txt" in detail


def test_only_exact_pins_that_apply_constrain(tmp_path: Path) -> None:
    """pip picks a supporting release for a range itself; a marker can exclude a pin for that Python."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# comment\n-r other.txt\nnumpy>=1.0\npyarrow==26.0.1 ; python_version >= '3.11'\ntorchmetrics==1.9.0\n"
    )
    assert [pin.name for pin in read_pins(requirements, "py310")] == ["torchmetrics"]
    assert floor_problem(requirements, "r.txt", "py310", "us-east-1") is None
