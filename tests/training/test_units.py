"""Unit tests: hyperparameter parsing, data loading details, batch sharding, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import contract
import hparams
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from batches import BatchLoader
from checkpoints import CheckpointManager, capture_rng_state, describe_changes, fingerprint, restore_rng_state
from data import load_channels

SAMPLES: dict[str, list[Any]] = {
    "int": [0, 1, 7, 2**31 - 1],
    "float": [0.1, 1e-7, 0.30000000000000004, 2.5e-5, 0.999999, 1 / 3],
    "bool": [True, False],
    "str": ["label", "y with space", "ünïcode", "-dash", "--x", "a=b", ""],
    "list[str]": [[], ["a"], ["f0", "f 1", "ü"]],
    "list[int]": [[], [1], [512, 256, 3]],
}


def _roundtrip(specs: tuple[contract.HyperparameterSpec, ...], values: dict[str, Any]) -> dict[str, Any]:
    argv = [token for spec in specs for token in (f"--{spec.name}", contract.serialize_value(spec, values[spec.name]))]
    namespace = hparams.parse_args(argv, specs)
    return {spec.name: getattr(namespace, spec.name) for spec in specs}


@pytest.mark.parametrize("spec", contract.HYPERPARAMETERS, ids=lambda spec: spec.name)
def test_every_contract_hyperparameter_round_trips(spec: contract.HyperparameterSpec) -> None:
    candidates = [spec.default, *SAMPLES[spec.kind]]
    valid = []
    for value in candidates:
        try:
            hparams.check_range(spec, value)
        except ValueError:
            continue
        valid.append(value)
    assert spec.default in valid
    for value in valid:
        parsed = _roundtrip((spec,), {spec.name: value})[spec.name]
        assert parsed == value and type(parsed) is type(value)


def test_all_kinds_round_trip_including_bool() -> None:
    specs = tuple(contract.HyperparameterSpec(f"h_{i}", kind, None, "") for i, kind in enumerate(SAMPLES))
    for index in range(4):
        values = {spec.name: SAMPLES[spec.kind][index % len(SAMPLES[spec.kind])] for spec in specs}
        parsed = _roundtrip(specs, values)
        assert parsed == values
        assert all(type(parsed[name]) is type(values[name]) for name in values)


def test_defaults_and_trainer_flags() -> None:
    args = hparams.parse_args([])
    assert hparams.hyperparameters_of(args) == contract.DEFAULT_HYPERPARAMETERS
    assert not set(hparams.TRAINER_FLAGS) & set(contract.HYPERPARAMETERS_BY_NAME)
    assert hparams.parse_args(["--dry-run"]).max_steps_per_epoch == hparams.DRY_RUN_STEPS


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--learning_rate", "0"], "learning_rate: 0.0 must be > 0.0"),
        (["--hidden_sizes", "[64,0]"], "hidden_sizes: 0 must be >= 1"),
        (["--decision_threshold", "nan"], "decision_threshold"),
        (["--epochs", "1001"], "epochs: 1001 must be <= 1000"),
        (["--feature_columns", "[1,2]"], "feature_columns"),
        (["--dry-run", "--max-steps-per-epoch", "-1"], "max-steps-per-epoch"),
    ],
)
def test_invalid_hyperparameters_name_the_problem(argv: list[str], fragment: str) -> None:
    with pytest.raises(hparams.HyperparameterError, match="invalid") as error:
        hparams.parse_args(argv)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_bool_label_and_multiple_nested_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for channel in ("train", "val"):
        for part in range(2):
            directory = tmp_path / channel / f"part={part}"
            directory.mkdir(parents=True)
            table = pa.table({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "name": ["x", "y", "z"], "y": [True, False, True]})
            pq.write_table(table, directory / "rows.parquet")
        monkeypatch.setenv(f"SM_CHANNEL_{channel.upper()}", str(tmp_path / channel))
    monkeypatch.setenv("SM_CHANNEL_TEST", str(tmp_path / "absent"))
    channels, features = load_channels("y", [])
    assert features == ["a", "b"] and set(channels) == {"train", "val"}
    assert channels["train"].features.shape == (6, 2) and channels["train"].features.dtype == np.float32
    assert channels["train"].labels.tolist() == [1, 0, 1, 1, 0, 1]


def test_evaluation_batches_cover_every_row_once() -> None:
    features = torch.arange(22, dtype=torch.float32).unsqueeze(1)
    loader = BatchLoader(features, torch.arange(22, dtype=torch.float32), 4, device=torch.device("cpu"))
    batches = [labels.tolist() for _, labels in loader]
    assert len(batches) == len(loader) == 6
    assert [value for batch in batches for value in batch] == list(range(22))


def test_training_order_is_a_padded_permutation_per_epoch_and_rank() -> None:
    features = torch.arange(10, dtype=torch.float32).unsqueeze(1)
    labels = torch.arange(10, dtype=torch.float32)

    def epoch(loader: BatchLoader, number: int) -> list[int]:
        loader.set_epoch(number)
        rows = [int(value) for batch, target in loader for value in target]
        assert [int(value) for batch, _ in loader for value in batch[:, 0]] == rows  # rows stay paired
        return rows

    loader = BatchLoader(features, labels, 4, device=torch.device("cpu"), shuffle=True, seed=3, epoch_rows=11)
    first = epoch(loader, 1)
    assert len(first) == 11 == len(loader) * 4 - 1 and sorted(set(first)) == list(range(10))
    assert first[10] == first[0], "one row short of the largest shard: the epoch repeats its first row"
    assert epoch(loader, 2) != first and epoch(loader, 1) == first
    other_rank = BatchLoader(features, labels, 4, device=torch.device("cpu"), shuffle=True, seed=3, rank=1)
    assert epoch(other_rank, 1) != first[:10]


SETTINGS = {"hyperparameters": {"learning_rate": 0.001}, "rows": {"train": 10}}


def _state(epoch: int, best_epoch: int, settings: dict[str, Any] = SETTINGS) -> dict[str, Any]:
    return {
        "epoch": epoch, "model": {"w": torch.ones(2) * epoch}, "optimizer": {}, "rng": capture_rng_state(),
        "best_auroc": 0.5, "best_epoch": best_epoch, "bad_epochs": 0, "best_model": {}, "standardizer": {},
        "settings": settings, "fingerprint": fingerprint(settings),
    }  # fmt: skip


def test_checkpoints_keep_last_two_and_best_and_skip_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manager = CheckpointManager(tmp_path)
    for epoch in range(1, 6):
        manager.save(_state(epoch, best_epoch=2))
    assert [epoch for epoch, _ in manager.checkpoints()] == [2, 4, 5]
    # A truncated newest file and one missing keys are skipped with a warning.
    data = (tmp_path / "checkpoint-epoch-0005.pt").read_bytes()
    (tmp_path / "checkpoint-epoch-0005.pt").write_bytes(data[: len(data) // 2])
    torch.save({"epoch": 7}, tmp_path / "checkpoint-epoch-0007.pt")
    loaded = manager.resumable(SETTINGS)
    assert loaded is not None and loaded[0]["epoch"] == 4
    err = capsys.readouterr().err
    assert "skipping unreadable checkpoint" in err and "0005" in err
    assert "skipping incomplete checkpoint" in err and "0007" in err


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    import random

    torch.save({"rng": capture_rng_state()}, tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    actual = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], actual[0]) and np.array_equal(expected[1], actual[1])
    assert math.isclose(expected[2], actual[2])


def test_loaded_features_are_row_major_and_standardized_in_place(
    dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model import Standardizer

    for channel in ("train", "val", "test"):
        monkeypatch.setenv(f"SM_CHANNEL_{channel.upper()}", str(dataset_dir / channel))
    channels, features = load_channels("label", [])
    train = channels["train"].features
    assert train.flags.c_contiguous and train.dtype == np.float32 and train.shape[1] == len(features)
    raw = train.copy()
    standardizer = Standardizer.fit(train)
    assert standardizer.transform_inplace(train) is train
    np.testing.assert_allclose(train, (raw - standardizer.mean) / standardizer.std, rtol=1e-5, atol=1e-6)


def test_checkpoints_of_other_settings_are_set_aside_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manager = CheckpointManager(tmp_path)
    manager.save(_state(1, best_epoch=1))
    manager.save(_state(2, best_epoch=1, settings={**SETTINGS, "hyperparameters": {"learning_rate": 0.01}}))
    legacy = _state(3, best_epoch=1)
    del legacy["settings"], legacy["fingerprint"]  # written before checkpoints had fingerprints
    manager.save(legacy)
    found = manager.resumable(SETTINGS)
    assert found is not None and found[0]["epoch"] == 1
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and warning.startswith("WARNING: not resuming 2 checkpoint(s)"), warning
    assert "checkpoint-epoch-0003.pt: it records no training settings" in warning
    assert [epoch for epoch, _ in manager.checkpoints()] == [1]
    moved = sorted(path.name for path in (tmp_path / "mismatched").rglob("*.pt"))
    assert moved == ["checkpoint-epoch-0002.pt", "checkpoint-epoch-0003.pt"]
    assert "hyperparameters.learning_rate 0.01 -> 0.001" in describe_changes(
        {**SETTINGS, "hyperparameters": {"learning_rate": 0.01}}, SETTINGS
    )


def test_loss_plot_ticks_are_whole_epochs() -> None:
    import plots

    history = [{"epoch": epoch, "train_loss": 1 / epoch, "val_loss": 1.1 / epoch} for epoch in (1, 2, 3)]
    figure = plots.loss_figure(history)
    ticks = [tick for tick in figure.axes[0].get_xticks() if 1 <= tick <= 3]
    assert ticks and all(float(tick).is_integer() for tick in ticks), ticks
