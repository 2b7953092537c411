"""Atomic per-epoch checkpoints with RNG states, bounded retention, and resume only into the same training.

Checkpoints are always loaded onto the CPU (``map_location="cpu"``) and moved to the job's device
by whoever uses them, so a checkpoint written on a GPU restores on any device and RNG states are
restored from CPU tensors. Each checkpoint records the ``settings`` that shape training and their
``fingerprint``; a checkpoint of different settings is set aside (moved into ``mismatched/``),
never resumed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_NAME = "checkpoint-epoch-{epoch:04d}.pt"
_CHECKPOINT_RE = re.compile(r"^checkpoint-epoch-(\d+)\.pt$")
MISMATCHED = "mismatched"
"""Subfolder that checkpoints of other settings are moved into (``mismatched/<UTC time>/``)."""
FRESH_START = "set-aside"
"""Subfolder that ``--fresh`` moves existing checkpoints into (``set-aside/<UTC time>/``)."""
REQUIRED_KEYS = frozenset(
    {"epoch", "model", "optimizer", "rng", "best_auroc", "best_epoch", "bad_epochs", "best_model", "standardizer"}
)


def capture_rng_state(device: torch.device | None = None) -> dict[str, Any]:
    """Torch CPU, numpy and Python RNG states, plus ``device``'s CUDA RNG state, as CPU tensors and plain values.

    The form is one ``torch.load(weights_only=True)`` accepts.
    """
    numpy_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": random.getstate(),
    }
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Inverse of ``capture_rng_state``; every tensor is brought to the CPU first, whatever it was loaded on."""
    torch.set_rng_state(state["torch"].cpu())
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].cpu().numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if device is not None and device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def fingerprint(settings: dict[str, Any]) -> str:
    """A short stable hash of the settings that shape training (JSON with sorted keys)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def describe_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What differs between two settings dicts, e.g. ``learning_rate 0.001 -> 0.01``."""
    if not isinstance(old, dict):
        return "it records no training settings (written by an older trainer)"
    before, after = _flatten(old), _flatten(new)
    changes = [
        f"{key} {before.get(key, '(unset)')} -> {after.get(key, '(unset)')}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]
    return ", ".join(changes) or "same settings, different fingerprint"


def warn(message: str) -> None:
    """A warning line on stderr."""
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


class CheckpointManager:
    """Writes ``checkpoint-epoch-NNNN.pt`` files; keeps the newest ``keep_last`` plus the best epoch's.

    Only the writer (rank 0) saves or prunes; every rank can load.
    """

    def __init__(self, directory: Path, *, keep_last: int = 2, writer: bool = True) -> None:
        self.directory = directory
        self.keep_last = keep_last
        self.writer = writer
        if writer:
            directory.mkdir(parents=True, exist_ok=True)
            for stale in directory.glob(".checkpoint-*.tmp*"):
                stale.unlink(missing_ok=True)

    def checkpoints(self) -> list[tuple[int, Path]]:
        """``(epoch, path)`` of every checkpoint file, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = _CHECKPOINT_RE.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
        return sorted(found)

    def save(self, state: dict[str, Any]) -> Path | None:
        """Atomically write ``state`` (temp file, fsync, ``os.replace``) and prune old checkpoints."""
        if not self.writer:
            return None
        target = self.directory / CHECKPOINT_NAME.format(epoch=state["epoch"])
        temporary = self.directory / f".{target.name}.tmp{os.getpid()}"
        with open(temporary, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        self._prune(current=int(state["epoch"]), best_epoch=int(state["best_epoch"]))
        return target

    def _prune(self, current: int, best_epoch: int) -> None:
        """Keep the newest ``keep_last`` and the best; later-numbered files were unusable when we resumed."""
        existing = [(epoch, path) for epoch, path in self.checkpoints() if epoch <= current]
        keep = {epoch for epoch, _ in existing[-self.keep_last :]} | {best_epoch}
        for epoch, path in self.checkpoints():
            if epoch not in keep:
                path.unlink(missing_ok=True)

    def resumable(self, settings: dict[str, Any]) -> tuple[dict[str, Any], Path] | None:
        """The newest readable checkpoint of these ``settings``; those of other settings are set aside.

        Unreadable or incomplete files are skipped with a warning; set-aside ones are reported in one
        warning line that names what changed.
        """
        expected = fingerprint(settings)
        mismatched: list[tuple[Path, dict[str, Any]]] = []
        found = None
        for _, path in reversed(self.checkpoints()):
            state = self.load(path)
            if state is None:
                continue
            if state.get("fingerprint") == expected:
                found = (state, path)
                break
            mismatched.append((path, state))
        if mismatched:
            newest_path, newest = mismatched[0]
            target = self.set_aside([path for path, _ in mismatched], MISMATCHED)
            warn(
                f"not resuming {len(mismatched)} checkpoint(s) of a different training setup "
                f"(newest {newest_path.name}: {describe_changes(newest.get('settings'), settings)}); "
                f"moved them to {target}"
            )
        return found

    def set_aside(self, paths: list[Path], folder: str) -> Path | None:
        """Move ``paths`` into ``<directory>/<folder>/<UTC time>/`` (kept, never deleted); the writer only."""
        if not self.writer or not paths:
            return None
        (self.directory / folder).mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = Path(tempfile.mkdtemp(prefix=f"{stamp}-", dir=self.directory / folder))
        for path in paths:
            os.replace(path, target / path.name)
        return target

    @staticmethod
    def load(path: Path) -> dict[str, Any] | None:
        """Load one checkpoint onto the CPU, or warn and return ``None`` when it is corrupt or incomplete."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            warn(f"skipping unreadable checkpoint {path}: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
            return None
        missing = REQUIRED_KEYS - set(state) if isinstance(state, dict) else REQUIRED_KEYS
        if missing:
            warn(f"skipping incomplete checkpoint {path}: missing {sorted(missing)}")
            return None
        return state  # type: ignore[no-any-return]  # torch.load is typed Any; the keys were checked above
