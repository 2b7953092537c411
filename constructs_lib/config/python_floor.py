"""Which Python the training code's pinned requirements install on, derived offline.

    python -m constructs_lib.config.python_floor --write   # record training_src's pins from the installed packages
    python -m constructs_lib.config.python_floor --check   # exit 1 if the record is out of date

pip skips a distribution whose ``Requires-Python`` excludes the interpreter, and an ``==`` pin
leaves it no other version: the job would fail at its pip install, minutes after the image was
pulled. Synth reads each pin's ``Requires-Python`` instead, from two sources that agree:

* the installed distribution's metadata (``importlib.metadata``), when exactly the pinned version
  is installed: ``make test`` installs the trainer's pins (requirements-dev.txt pins the same);
* else ``requires_python.json`` next to this module, written by ``--write`` from that metadata and
  kept current by a test, so a machine with only ``make synth``'s runtime packages knows it too.

The floor is never a hand-kept constant: a new pin brings its own ``Requires-Python``. Only ``==``
pins constrain; for a range or a bare name, pip itself picks a release that supports the interpreter.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from constructs_lib.config.default_trainer import default_trainer_dir
from constructs_lib.config.image_catalog import pytorch_training_images

RECORD = Path(__file__).with_name("requires_python.json")
PROJECT_REQUIREMENTS = default_trainer_dir() / "requirements.txt"
"""The bundled trainer's requirements (``training_src/requirements.txt``)."""
PY_VERSION = re.compile(r"^py3\d+$")
LATEST_PATCH = 99
"""A py_version names a minor release; any of its patch releases (3.12.0 .. 3.12.99) may be in the image."""


@dataclass(frozen=True)
class Pin:
    """One ``name==version`` line of a requirements file, with its ``Requires-Python`` if known."""

    name: str
    version: str
    requires_python: str | None

    @property
    def key(self) -> str:
        """``name==version`` with the name normalized, as recorded."""
        return f"{canonicalize_name(self.name)}=={self.version}"

    def supports(self, py_version: str) -> bool:
        """Whether some patch release of ``py_version`` (``py312``) satisfies ``Requires-Python``."""
        if not self.requires_python:
            return True
        minor = python_minor(py_version)
        specifiers = SpecifierSet(self.requires_python)
        return any(specifiers.contains(f"{minor}.{patch}") for patch in (0, LATEST_PATCH))


def python_minor(py_version: str) -> str:
    """``py312`` -> ``3.12``."""
    digits = py_version.removeprefix("py")
    return f"{digits[0]}.{digits[1:]}"


def _exact_pins(requirements: Path, py_version: str | None) -> list[tuple[str, str]]:
    """``(name, version)`` of every ``==`` pin whose environment marker holds for ``py_version`` (None: all)."""
    environment = None
    if py_version is not None:
        minor = python_minor(py_version)
        environment = {"python_version": minor, "python_full_version": f"{minor}.0"}
    pins = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue  # pip reports it at install time; nothing here constrains Python
        if environment and requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        exact = [spec.version for spec in requirement.specifier if spec.operator in ("==", "===")]
        if len(exact) == 1 and "*" not in exact[0]:
            pins.append((requirement.name, exact[0]))
    return pins


def _installed_requires_python(name: str, version: str) -> str | None:
    try:
        metadata = importlib.metadata.metadata(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    if metadata["Version"] != version:
        return None
    declared = metadata.get_all("Requires-Python") or [""]  # absent: the distribution supports any Python
    return str(declared[0])


def _recorded() -> dict[str, str]:
    if not RECORD.is_file():
        return {}
    recorded: dict[str, str] = json.loads(RECORD.read_text(encoding="utf-8"))
    return recorded


def read_pins(requirements: Path, py_version: str) -> list[Pin]:
    """The exact pins of ``requirements`` with their ``Requires-Python`` (None: unknown offline)."""
    recorded = _recorded()
    pins = []
    for name, version in _exact_pins(requirements, py_version):
        found = _installed_requires_python(name, version)
        if found is None:
            found = recorded.get(f"{canonicalize_name(name)}=={version}")
        pins.append(Pin(name, version, found))
    return pins


def unknown_pins(pins: list[Pin]) -> list[Pin]:
    """Pins whose ``Requires-Python`` neither the installed packages nor the record know."""
    return [pin for pin in pins if pin.requires_python is None]


def blocking_pins(pins: list[Pin], py_version: str) -> list[Pin]:
    """Pins that pip cannot install on ``py_version``."""
    return [pin for pin in pins if pin.requires_python is not None and not pin.supports(py_version)]


def floor_problem(requirements: Path, shown: str, py_version: str, region: str) -> tuple[str, str] | None:
    """``(field, detail)`` when a pin of ``requirements`` cannot install on ``py_version``; None when all can.

    Args:
        requirements: the training code's requirements file.
        shown: how the message names that file (relative to the project).
        py_version: the training image's Python, ``py312``.
        region: the stage's region, for the framework versions that would do.
    """
    pins = read_pins(requirements, py_version)
    for pin in unknown_pins(pins):
        return "trainer.source_dir", (
            f"{shown} pins {pin.name}=={pin.version}, whose Requires-Python synth cannot read offline: install it "
            f"into the Python that runs synth (pip install --no-deps {pin.name}=={pin.version}); in this "
            f"repository, also record it with `.venv/bin/python -m constructs_lib.config.python_floor --write {shown}`"
        )
    blocked = blocking_pins(pins, py_version)
    if not blocked:
        return None
    needs = ", ".join(f"{pin.name}=={pin.version} needs Python {pin.requires_python}" for pin in blocked)
    images = pytorch_training_images()
    pairs = [
        f"{version}/{py}"
        for version in images.supported_versions(region)
        for py in images.py_versions[version]
        if PY_VERSION.match(py) and not blocking_pins(pins, py)  # old catalog entries say just py2/py3
    ]
    fix = f"framework_version/py_version pairs that can: {', '.join(pairs)}" if pairs else "set model.image_uri"
    return "model.py_version", f"{py_version} cannot pip install {shown}: {needs}; {fix}"


def record_entries(requirements: Path) -> dict[str, str]:
    """``name==version`` -> ``Requires-Python`` of each pin, from the installed distributions.

    Raises:
        SystemExit: when a pinned version is not installed (its metadata is the only source).
    """
    entries: dict[str, str] = {}
    for name, version in _exact_pins(requirements, None):
        found = _installed_requires_python(name, version)
        if found is None:
            raise SystemExit(f"{requirements}: {name}=={version} is not installed; install it first (make dev)")
        entries[f"{canonicalize_name(name)}=={version}"] = found
    return entries


def main(argv: list[str] | None = None) -> int:
    """Write or check ``requires_python.json`` for the given requirements files."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true")
    group.add_argument("--check", action="store_true")
    parser.add_argument("requirements", nargs="*", type=Path, default=[PROJECT_REQUIREMENTS])
    args = parser.parse_args(argv)
    fresh: dict[str, str] = {}
    for requirements in args.requirements:
        fresh.update(record_entries(requirements))
    if args.write:
        RECORD.write_text(json.dumps({**_recorded(), **fresh}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return 0
    stale = {key: value for key, value in fresh.items() if _recorded().get(key) != value}
    if stale:
        print(f"{RECORD.name}: out of date for {', '.join(stale)}; run with --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
