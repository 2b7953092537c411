"""The code bundle: a deterministic tar.gz with the entry point at its root and no caches."""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from constructs_lib.config.errors import ConfigError
from constructs_lib.definition.source_bundle import EXCLUDED_DIR_NAMES, build_source_bundle_bytes, write_source_bundle

TRAINING_SRC = Path(__file__).resolve().parents[2] / "training_src"


def clone(tmp_path: Path, name: str, mtime: int) -> Path:
    target = tmp_path / name / "training_src"
    shutil.copytree(TRAINING_SRC, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in target.rglob("*"):
        os.utime(path, (mtime, mtime))
    return target


def test_two_clones_with_different_mtimes_give_identical_bytes(tmp_path: Path) -> None:
    first, second = clone(tmp_path, "a", 1_000_000), clone(tmp_path, "b", 2_000_000_000)
    (second / "__pycache__").mkdir()
    (second / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"cache")
    (second / "stray.pyc").write_bytes(b"cache")
    os.chmod(second / "train.py", 0o755)
    assert build_source_bundle_bytes(first, "train.py") == build_source_bundle_bytes(second, "train.py")
    assert (
        write_source_bundle(first, "train.py", tmp_path / "out1").name
        == write_source_bundle(second, "train.py", tmp_path / "out2").name
    )


def test_bundle_layout_and_fixed_metadata(tmp_path: Path) -> None:
    path = write_source_bundle(TRAINING_SRC, "train.py", tmp_path)
    assert path.name.startswith("sourcedir-") and path.name.endswith(".tar.gz")
    with gzip.open(path) as stream:
        stream.read(1)
    with tarfile.open(path, mode="r:gz") as archive:  # exactly how the SageMaker toolkit opens it
        members = archive.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert "train.py" in names and "contract.py" in names and "requirements.txt" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}
    expected = sorted(
        p.relative_to(TRAINING_SRC).as_posix()
        for p in TRAINING_SRC.rglob("*")
        if p.is_file() and not EXCLUDED_DIR_NAMES.intersection(p.parts) and p.suffix != ".pyc"
    )
    assert names == expected, "no file is silently dropped"


def test_unchanged_bundle_is_not_rewritten(tmp_path: Path) -> None:
    first = write_source_bundle(TRAINING_SRC, "train.py", tmp_path)
    stamp = first.stat().st_mtime_ns
    assert write_source_bundle(TRAINING_SRC, "train.py", tmp_path) == first
    assert first.stat().st_mtime_ns == stamp


def test_missing_entry_point_or_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trainer\.entry_point: 'nope\.py' not found at the root"):
        build_source_bundle_bytes(TRAINING_SRC, "nope.py")
    with pytest.raises(ConfigError, match=r"trainer\.source_dir: .* is not a directory"):
        build_source_bundle_bytes(tmp_path / "missing", "train.py")


def test_the_render_cache_key_follows_how_hyperparameters_are_sent() -> None:
    """Two trainers whose values dump alike but serialize differently (str vs json kind) never share a definition."""
    from constructs_lib.config.hyperparameters import Hyperparameter, hyperparameters_model
    from constructs_lib.definition.render_cache import definition_cache_key
    from tests.unit.definition_requests import make_request

    as_text = hyperparameters_model({"x": Hyperparameter(kind="str", default="abc")})()
    as_json = hyperparameters_model({"x": Hyperparameter(kind="json", default="abc")})()
    assert as_text.model_dump_json() == as_json.model_dump_json()
    assert as_text.serialize_config() != as_json.serialize_config()
    assert definition_cache_key(make_request(hyperparameters=as_text)) != definition_cache_key(
        make_request(hyperparameters=as_json)
    )
