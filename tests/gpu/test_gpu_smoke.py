"""The GPU smoke check (``gpu_check.py``) under pytest; skipped where CUDA is absent, as on CI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run `make gpu-check` on one)")


def test_gpu_smoke(tmp_path: Path) -> None:
    import gpu_check

    failures = gpu_check.run_checks(tmp_path, torch.device("cuda", 0))
    assert not any(failures.values()), failures
