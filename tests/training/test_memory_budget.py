"""The check before loading: available memory from /proc/meminfo and the cgroup, in memory or streamed.

The files are laid out as the kernel documents them: cgroup v2 ``memory.max`` ("max" when unlimited),
``memory.current`` and ``memory.stat``'s ``inactive_file`` (Documentation/admin-guide/cgroup-v2.rst);
cgroup v1 ``memory.limit_in_bytes``, ``memory.usage_in_bytes`` and ``memory.stat``'s
``hierarchical_memory_limit`` and ``total_inactive_file`` (Documentation/admin-guide/cgroup-v1/memory.rst);
``/proc/self/cgroup`` lines ``hierarchy-ID:controller-list:cgroup-path`` (man 7 cgroups).
"""

from __future__ import annotations

from pathlib import Path

import decode
import memory_budget
import pytest
from failure import TrainingError
from memory_budget import Available, Need, available_memory, cgroup_headroom, choose, estimate
from trainer_harness import job_env, run_in_process

GIB = 1 << 30


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _meminfo(tmp_path: Path, gib: float) -> Path:
    return _write(tmp_path / "meminfo", f"MemTotal: 33554432 kB\nMemAvailable: {int(gib * (1 << 20))} kB\n")


def test_cgroup_v2_headroom_is_the_tightest_limit_minus_the_working_set(tmp_path: Path) -> None:
    root = tmp_path / "sys"
    _write(root / "cgroup.controllers", "cpu memory\n")
    _write(root / "job" / "memory.max", f"{8 * GIB}\n")
    job = root / "job" / "trainer"
    _write(job / "memory.max", "max\n")
    _write(job / "memory.current", f"{3 * GIB}\n")
    _write(job / "memory.stat", f"anon 100\ninactive_file {GIB}\nactive_file 5\n")
    proc = _write(tmp_path / "cgroup", "0::/job/trainer\n")
    headroom, where = cgroup_headroom(proc, root) or (0, "")
    assert headroom == 8 * GIB - (3 * GIB - GIB) and "cgroup v2" in where
    found = available_memory(_meminfo(tmp_path, 30), proc, root)
    assert found.bytes == 6 * GIB and "limit minus usage" in found.source
    assert available_memory(_meminfo(tmp_path, 4), proc, root) == Available(4 * GIB, "MemAvailable")


def test_cgroup_v1_memory_controller_of_this_process(tmp_path: Path) -> None:
    root = tmp_path / "sys"
    folder = root / "memory" / "docker" / "abc"
    _write(folder / "memory.limit_in_bytes", f"{16 * GIB}\n")
    _write(folder / "memory.usage_in_bytes", f"{10 * GIB}\n")
    _write(folder / "memory.stat", f"hierarchical_memory_limit {12 * GIB}\ntotal_inactive_file {2 * GIB}\n")
    proc = _write(tmp_path / "cgroup", "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n0::/\n")
    assert cgroup_headroom(proc, root) == (12 * GIB - 8 * GIB, f"cgroup v1 {folder}")
    unlimited = _write(tmp_path / "v1" / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
    assert cgroup_headroom(_write(tmp_path / "c2", "4:memory:/\n"), unlimited.parent.parent) is None


def test_this_machine_reports_a_figure() -> None:
    found = available_memory()
    assert 0 < found.bytes < 1 << 50 and found.source


@pytest.mark.parametrize(
    ("setting", "available_gib", "mode", "fragment"),
    [
        ("auto", 8.0, "memory", "in memory (holding the data needs"),
        ("auto", 1.0, "stream", "more than 85% of 1.00 GiB available"),
        ("stream", 8.0, "stream", "streamed (data_loading=stream"),
        ("memory", 8.0, "memory", "in memory"),
    ],
)
def test_the_mode_follows_the_setting_and_the_memory(
    setting: str, available_gib: float, mode: str, fragment: str
) -> None:
    need = estimate({"train": 40_000_000, "val": 1_000_000}, 9, 64 << 20)
    scratch = 2 * memory_budget.SCRATCH_ROWS * 4 * 9  # one conversion scratch per channel, loaded side by side
    assert need.in_memory == 41_000_000 * 40 + scratch + memory_budget.FIXED_BYTES
    loaded = estimate({"train": 40_000_000, "val": 1_000_000}, 9, 64 << 20, resident=300 << 20)
    assert loaded.in_memory == need.in_memory - (300 << 20)  # already resident: already counted as used
    assert memory_budget.resident_bytes() > 50 << 20  # this process, torch loaded
    chosen, reason = choose(setting, need, Available(int(available_gib * GIB), "MemAvailable"), 1)
    assert chosen == mode and fragment in reason, reason


def test_wide_data_counts_each_channels_conversion_scratch() -> None:
    """2,000 features: three channels' scratches are ~1.5 GiB, which the fixed part (measured narrow) cannot hold."""
    narrow = estimate({"train": 100_000, "val": 20_000, "test": 20_000}, 2_000, 64 << 20)
    scratch = (memory_budget.SCRATCH_ROWS + 20_000 + 20_000) * 4 * 2_000
    assert narrow.in_memory == 140_000 * 4 * 2_001 + scratch + memory_budget.FIXED_BYTES
    assert memory_budget.SCRATCH_ROWS == decode.READ_BATCH_ROWS


def test_forced_memory_that_does_not_fit_stops_with_needed_available_and_fix() -> None:
    need = Need(20 * GIB, GIB, "train 50,000,000 rows x 100 features")
    with pytest.raises(TrainingError) as caught:
        choose("memory", need, Available(16 * GIB, "cgroup v1 /sys/fs/cgroup/memory limit minus usage"), 2)
    message = str(caught.value)
    for fragment in ("data_loading=memory", "needs 40.00 GiB for 2 processes on this host", "16.00 GiB available",
                     "cgroup v1", "set data_loading=auto or stream"):  # fmt: skip
        assert fragment in message, message
    with pytest.raises(TrainingError, match=r"not enough memory to train: streaming needs .*smaller row groups"):
        choose("auto", need, Available(GIB // 2, "MemAvailable"), 1)


def test_a_run_that_cannot_hold_its_data_stops_before_loading(
    dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Composed: train.py asks memory_budget, and auto streams where memory would not do."""
    monkeypatch.setattr(memory_budget, "available_memory", lambda: Available(150 << 20, "cgroup v1 test"))
    env = job_env(tmp_path / "forced", dataset_dir)
    assert run_in_process(["--epochs", "1", "--dry-run", "--data_loading", "memory"], env, monkeypatch) == 1
    reason = (tmp_path / "forced" / "output" / "failure").read_text()
    assert (
        reason.startswith("data_loading=memory: holding the data needs")
        and "0.15 GiB available (cgroup v1 test)" in reason
    )
    capsys.readouterr()
    monkeypatch.setattr(memory_budget, "available_memory", lambda: Available(8 * GIB, "MemAvailable"))
    assert run_in_process(["--epochs", "1", "--dry-run"], job_env(tmp_path / "auto", dataset_dir), monkeypatch) == 0
    assert "data loading: in memory (holding the data needs" in capsys.readouterr().out
    monkeypatch.setattr(memory_budget, "estimate", lambda *_: Need(12 * GIB, GIB, "train 9 rows x 5 features"))
    assert run_in_process(["--epochs", "1", "--dry-run"], job_env(tmp_path / "big", dataset_dir), monkeypatch) == 0
    out = capsys.readouterr().out
    assert "data loading: streamed (holding the data needs 12.00 GiB" in out, out
    meta = (tmp_path / "big" / "model" / "model_meta.json").read_text()
    assert '"data_loading": "stream"' in meta
