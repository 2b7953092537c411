"""Atomic per-epoch checkpoints with RNG states, bounded retention and resume from the latest valid one."""

from __future__ import annotations

import os
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_NAME = "checkpoint-epoch-{epoch:04d}.pt"
_CHECKPOINT_RE = re.compile(r"^checkpoint-epoch-(\d+)\.pt$")
REQUIRED_KEYS = frozenset(
    {"epoch", "model", "optimizer", "rng", "best_auroc", "best_epoch", "bad_epochs", "best_model", "standardizer"}
)


def capture_rng_state() -> dict[str, Any]:
    """Torch (CPU and CUDA), numpy and Python RNG states, in a form ``torch.load(weights_only=True)`` accepts."""
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
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng_state``."""
    torch.set_rng_state(state["torch"].cpu())
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


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

    def load_latest(
        self, map_location: torch.device, validate: Callable[[dict[str, Any]], str | None] | None = None
    ) -> tuple[dict[str, Any], Path] | None:
        """The newest checkpoint that loads and passes ``validate`` (which returns a reason to reject).

        Unreadable, partial or mismatching checkpoints are skipped with a warning.
        """
        for _, path in reversed(self.checkpoints()):
            state = self.load(path, map_location)
            if state is None:
                continue
            reason = validate(state) if validate else None
            if reason:
                warn(f"skipping checkpoint {path}: {reason}")
                continue
            return state, path
        return None

    @staticmethod
    def load(path: Path, map_location: torch.device) -> dict[str, Any] | None:
        """Load one checkpoint, or warn and return ``None`` when it is corrupt or incomplete."""
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as error:
            warn(f"skipping unreadable checkpoint {path}: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
            return None
        missing = REQUIRED_KEYS - set(state) if isinstance(state, dict) else REQUIRED_KEYS
        if missing:
            warn(f"skipping incomplete checkpoint {path}: missing {sorted(missing)}")
            return None
        return state  # type: ignore[no-any-return]  # torch.load is typed Any; the keys were checked above
