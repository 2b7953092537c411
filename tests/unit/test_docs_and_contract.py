"""Docs that cannot drift from the code, and the metric/hyperparameter contract."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.config.model_config import ModelHyperparameters
from constructs_lib.config.reference_docs import END, START, main, render_reference
from tests.conftest import training_arguments
from training_src import contract

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_readme_config_reference_is_generated_from_the_models() -> None:
    text = README.read_text()
    section = text[text.index(START) : text.index(END) + len(END)]
    assert section == render_reference(), "README config reference is stale: run `make docs`"
    for name in ModelHyperparameters.model_fields:
        assert f"| `{name}` |" in section


def test_docs_check_fails_on_a_broken_table(tmp_path: Path) -> None:
    broken = tmp_path / "README.md"
    broken.write_text(README.read_text().replace("| `epochs` | int | `10` |", "| `epochs` | int | `11` |"))
    assert main(["--check", str(broken)]) == 1
    assert main(["--write", str(broken)]) == 0
    assert main(["--check", str(broken)]) == 0


def test_make_help_lists_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = {m.group(1) for m in re.finditer(r"^([a-z][a-z0-9-]*):", makefile, re.MULTILINE)}
    described = {m.group(1) for m in re.finditer(r"^([a-z][a-z0-9-]*):.*## ", makefile, re.MULTILINE)}
    assert targets == described, f"targets without a ## description: {targets - described}"
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for target in targets:
        assert re.search(rf"^\s+{target}\s+\S", shown.stdout, re.MULTILINE), target


@pytest.mark.parametrize("value", [0.0, 1.0, 0.000001, 123.456, 0.5, 1e-9])
def test_every_rendered_regex_reads_the_trainer_format(value: float) -> None:
    """Each regex SageMaker will use must read back what the trainer's formatter prints."""
    line = contract.format_metric_line(
        dict.fromkeys(contract.EPOCH_METRIC_KEYS + contract.TEST_METRIC_KEYS + contract.SELECTED_METRIC_KEYS, value),
        prefix="epoch=1/3",
    )
    for definition in contract.metric_definitions():
        match = re.search(definition["Regex"], line)
        assert match, f"{definition['Name']}: {definition['Regex']!r} does not match {line!r}"
        assert float(match.group(1)) == pytest.approx(value, abs=10**-contract.METRIC_DECIMALS)
    assert "e-" not in line


@pytest.mark.parametrize("logged", contract.METRICS, ids=lambda m: m.key)
def test_each_regex_reads_only_its_own_metric(logged: contract.MetricSpec) -> None:
    """SageMaker applies every regex to every log line and keeps the last match per metric Name
    (FinalMetricDataList), so a key that contains another metric's key would overwrite that metric:
    ``best_val/auroc=`` would be read as ``Validation AUC ROC`` too."""
    line = contract.format_metric_line({logged.key: 0.5}, prefix="final:")
    readers = [metric.display_name for metric in contract.METRICS if re.search(metric.regex, line)]
    assert readers == [logged.display_name]


def test_overlapping_key_is_caught() -> None:
    """Negative case for the test above: the key the issue warns about is read by two regexes."""
    line = contract.format_metric_line({"best_val/auroc": 0.5})
    assert [m.display_name for m in contract.METRICS if re.search(m.regex, line)] == ["Validation AUC ROC"]


def test_gate_metrics_are_metric_names() -> None:
    names = {metric.display_name for metric in contract.METRICS}
    assert {contract.GATE_METRIC_WITH_TEST, contract.GATE_METRIC_WITHOUT_TEST} <= names


def test_metric_formatter_refuses_what_the_regex_cannot_read() -> None:
    for bad in (float("nan"), float("inf"), -0.1):
        with pytest.raises(ValueError, match="finite, non-negative"):
            contract.format_metric_value(bad)


def test_rendered_definition_uses_the_contract_regexes(templates: dict[str, dict[str, Any]]) -> None:
    rendered = training_arguments(templates["dev"])["AlgorithmSpecification"]["MetricDefinitions"]
    assert rendered == contract.metric_definitions()


@pytest.mark.parametrize("spec", contract.HYPERPARAMETERS, ids=lambda s: s.name)
def test_hyperparameter_round_trip(spec: contract.HyperparameterSpec) -> None:
    samples: dict[str, list[Any]] = {
        "int": [0, 1, 123456],
        "float": [0.1, 1e-7, 0.30000000000000004, 2.5],
        "bool": [True, False],
        "str": ["label", "a b", "ünï"],
        "list[str]": [[], ["a"], ["x y", "z"]],
        "list[int]": [[1], [64, 32, 16]],
    }
    for value in samples[spec.kind]:
        assert contract.parse_value(spec, contract.serialize_value(spec, value)) == value
