"""Deterministic ``sourcedir.tar.gz`` of the training code.

SageMaker's training toolkit opens the code bundle with ``tarfile.open(mode="r:gz")``,
but CDK packages a directory asset as a zip. So we build the tarball ourselves and
publish it as a *file* asset. The bytes depend only on file names and contents:
entries are sorted, and mtime, uid/gid, owner names and modes are fixed, and the gzip
header carries no timestamp or file name. Two clones of one commit give one asset hash.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

from constructs_lib.config.errors import ConfigError

EXCLUDED_DIR_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".DS_Store")
FIXED_MTIME = 0
FILE_MODE = 0o644


class SourceBundleError(ConfigError):
    """The training source directory cannot be bundled; ``field`` is the trainer setting at fault."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"trainer.{field}: {detail}")
        self.field = f"trainer.{field}"
        self.detail = detail


def list_bundle_files(source_dir: Path) -> list[Path]:
    """Files that go into the bundle, relative to ``source_dir``, sorted, caches excluded."""
    files: list[Path] = []
    for root, dir_names, file_names in os.walk(source_dir):
        dir_names[:] = sorted(name for name in dir_names if name not in EXCLUDED_DIR_NAMES)
        for name in file_names:
            if not name.endswith(EXCLUDED_SUFFIXES):
                files.append((Path(root) / name).relative_to(source_dir))
    return sorted(files, key=lambda path: path.as_posix())


def build_source_bundle_bytes(source_dir: Path, entry_point: str) -> bytes:
    """The deterministic ``tar.gz`` bytes of ``source_dir``.

    Args:
        source_dir: the training code folder; its files go at the archive root.
        entry_point: file that must exist at the root of ``source_dir``.

    Raises:
        SourceBundleError: when the folder or the entry point is missing.
    """
    if not source_dir.is_dir():
        raise SourceBundleError("source_dir", f"{source_dir} is not a directory")
    if not (source_dir / entry_point).is_file():
        raise SourceBundleError(
            "entry_point",
            f"{entry_point!r} not found at the root of {source_dir}; the entry point must be a file directly inside "
            "source_dir",
        )
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for relative in list_bundle_files(source_dir):
            data = (source_dir / relative).read_bytes()
            info = tarfile.TarInfo(name=relative.as_posix())
            info.size = len(data)
            info.mtime = FIXED_MTIME
            info.mode = FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return _compressed(tar_buffer.getvalue())


@functools.lru_cache(maxsize=8)
def _compressed(tar_bytes: bytes) -> bytes:
    """gzip at level 9, once per distinct archive in a process: the stages of an app usually share one
    trainer, and compressing it is most of a bundle's synth cost (about 14 ms)."""
    return gzip.compress(tar_bytes, compresslevel=9, mtime=FIXED_MTIME)


def write_source_bundle(source_dir: Path, entry_point: str, out_dir: Path) -> Path:
    """Write the bundle as ``<out_dir>/sourcedir-<sha256[:16]>.tar.gz`` and return its path.

    The content hash in the name means an unchanged bundle is never rewritten, and a
    changed one never overwrites a file that an earlier synth still refers to.
    """
    payload = build_source_bundle_bytes(source_dir, entry_point)
    digest = hashlib.sha256(payload).hexdigest()[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"sourcedir-{digest}.tar.gz"
    if not target.exists():
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(payload)
        temporary.replace(target)
    return target
