"""The bundled PyTorch trainer's spec: the default value of the ``trainer`` prop.

This is the one module of the library that reads ``training_src/``. It loads the trainer's
``contract.py`` (stdlib only) by file path and turns it into a ``TrainerSpec``, so the library
never imports the trainer as a package and the trainer imports nothing of the library's.

Where the trainer lives:

* installed (``pip install``): the wheel maps ``training_src/`` to ``constructs_lib/default_trainer/``;
* in this repository: ``training_src/`` next to ``constructs_lib/``.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from constructs_lib.config.hyperparameters import Hyperparameter, HyperparametersBase
from constructs_lib.config.trainer_spec import TrainerSpec

PACKAGE_DIR = Path(__file__).resolve().parents[1]
INSTALLED_TRAINER_DIR = PACKAGE_DIR / "default_trainer"
REPOSITORY_TRAINER_DIR = PACKAGE_DIR.parent / "training_src"
CONTRACT_MODULE = "constructs_lib._default_trainer_contract"
DEFAULT_QUALITY_THRESHOLD = 0.7
"""The bundled binary classifier is registered when its gate AUROC is at least this."""


def default_trainer_dir() -> Path:
    """The bundled trainer's folder, installed or in the repository."""
    for folder in (INSTALLED_TRAINER_DIR, REPOSITORY_TRAINER_DIR):
        if (folder / "contract.py").is_file():
            return folder
    raise FileNotFoundError(
        f"the bundled trainer is missing: neither {INSTALLED_TRAINER_DIR} nor {REPOSITORY_TRAINER_DIR} holds "
        "contract.py; reinstall the package"
    )


@functools.cache
def default_contract() -> ModuleType:
    """The bundled trainer's ``contract.py``, loaded by path (registered so its dataclasses resolve)."""
    path = default_trainer_dir() / "contract.py"
    spec = importlib.util.spec_from_file_location(CONTRACT_MODULE, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[CONTRACT_MODULE] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def default_trainer() -> TrainerSpec:
    """The bundled trainer's spec (built once per process)."""
    contract = default_contract()
    test_keys = set(contract.TEST_METRIC_KEYS)
    final_keys = set(contract.SELECTED_METRIC_KEYS) | test_keys
    return TrainerSpec(
        source_dir=default_trainer_dir(),
        entry_point=contract.ENTRY_POINT,
        hyperparameters={
            spec.name: Hyperparameter(
                kind=spec.kind,
                default=spec.default,
                description=spec.description,
                minimum=spec.minimum,
                maximum=spec.maximum,
                exclusive_minimum=spec.exclusive_minimum,
                exclusive_maximum=spec.exclusive_maximum,
                choices=spec.choices,
            )
            for spec in contract.HYPERPARAMETERS
        },
        required_channels=tuple(contract.REQUIRED_CHANNELS),
        optional_channels=tuple(contract.OPTIONAL_CHANNELS),
        metric_definitions={metric.display_name: metric.regex for metric in contract.METRICS},
        metric_channels={metric.display_name: "test" for metric in contract.METRICS if metric.key in test_keys},
        final_metrics=tuple(metric.display_name for metric in contract.METRICS if metric.key in final_keys),
        gate_metric=(contract.GATE_METRIC_WITH_TEST, contract.GATE_METRIC_WITHOUT_TEST),
        quality_threshold=DEFAULT_QUALITY_THRESHOLD,
        checkpoint_local_path=contract.CHECKPOINT_LOCAL_PATH,
        serving_min_python=f"py3{contract.SERVING_MIN_PYTHON[1]}",
    )


def default_hyperparameters_model() -> type[HyperparametersBase]:
    """The bundled trainer's hyperparameters as a pydantic model (the ``hyperparameters`` of a stage)."""
    return default_trainer().hyperparameters_model()
