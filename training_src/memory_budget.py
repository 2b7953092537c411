"""How much memory this process may use, and whether the data is held in memory or streamed.

A process that outgrows its memory is killed by the kernel with SIGKILL: SageMaker then reports
``ExitCode -9, ErrorMessage ""`` and, on several hosts, the other ranks wait for the process-group
timeout. So the trainer decides before it loads anything:

* available memory is the smaller of the host's ``MemAvailable`` (``/proc/meminfo``) and the headroom
  of this process's memory cgroup: its limit minus its usage. cgroup v2: ``memory.max`` and
  ``memory.current`` (every ancestor's limit counts too); v1: ``memory.limit_in_bytes`` (and
  ``hierarchical_memory_limit``) and ``memory.usage_in_bytes`` of the cgroup named in ``/proc/self/cgroup``.
  The usage counts the page cache, whose inactive file pages the kernel drops before it kills anything
  (SageMaker's File mode has just written the channels to disk): like the kubelet's "working set",
  ``inactive_file`` of ``memory.stat`` is not counted as used;
* ``data_loading=auto`` holds the data in memory when this host's ranks' shares fit, and streams it
  otherwise; ``memory`` stops at once when they do not fit, and ``stream`` when even streaming's
  working set does not, with the memory needed, the memory available and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from failure import TrainingError

FIXED_BYTES = 640 << 20
"""Memory a training process takes besides the data: torch, pyarrow and pandas loaded, the model, the
evaluation batches and allocator slack (about 450 MiB measured after the first epoch on CPU)."""
HEADROOM_FRACTION = 0.85
"""Only this share of the available memory is planned for: the estimate is an estimate."""
SHUFFLE_BUFFER_BYTES = 64 << 20
"""The streaming shuffle buffer's size per process (rows are mixed across row groups within it)."""
_UNLIMITED = 1 << 60
GIB = float(1 << 30)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return _UNLIMITED
    try:
        return int(text)
    except ValueError:
        return None


def _stat_value(directory: Path, key: str) -> int:
    """One ``memory.stat`` entry (0 when absent)."""
    try:
        for line in (directory / "memory.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def mem_available(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The host's ``MemAvailable`` in bytes."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_dir(root: Path, path: str) -> Path:
    """The cgroup's folder: ``root/path``, or ``root`` inside a container whose cgroup namespace hides the path."""
    candidate = root / path.lstrip("/")
    return candidate if candidate.is_dir() else root


def cgroup_headroom(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> tuple[int, str] | None:
    """``(limit - usage, where)`` of this process's memory cgroup, or None when it has no limit."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    entries = [line.split(":", 2) for line in lines if line.count(":") >= 2]
    v1 = [path for _, controllers, path in entries if "memory" in controllers.split(",")]
    if v1 and (root / "memory").is_dir():
        folder = _cgroup_dir(root / "memory", v1[0])
        limit = min(
            _read_int(folder / "memory.limit_in_bytes") or _UNLIMITED,
            _stat_value(folder, "hierarchical_memory_limit") or _UNLIMITED,
        )
        usage = _read_int(folder / "memory.usage_in_bytes") or 0
        used = usage - _stat_value(folder, "total_inactive_file")
        return (limit - max(used, 0), f"cgroup v1 {folder}") if limit < _UNLIMITED else None
    v2 = [path for hierarchy, controllers, path in entries if hierarchy == "0" and not controllers]
    if v2 and (root / "cgroup.controllers").exists():
        folder = _cgroup_dir(root, v2[0])
        used = (_read_int(folder / "memory.current") or 0) - _stat_value(folder, "inactive_file")
        limits = [_read_int(level / "memory.max") or _UNLIMITED for level in (folder, *folder.parents)
                  if level == root or root in level.parents]  # fmt: skip
        limit = min(limits, default=_UNLIMITED)
        return (limit - max(used, 0), f"cgroup v2 {folder}") if limit < _UNLIMITED else None
    return None


@dataclass(frozen=True)
class Available:
    """The memory this host's training processes may still use, and where the figure comes from."""

    bytes: int
    source: str


def available_memory(meminfo: Path = Path("/proc/meminfo"), proc_cgroup: Path = Path("/proc/self/cgroup"),
                     root: Path = Path("/sys/fs/cgroup")) -> Available:  # fmt: skip
    """The smaller of ``MemAvailable`` and the cgroup's headroom."""
    host = mem_available(meminfo)
    cgroup = cgroup_headroom(proc_cgroup, root)
    options = []
    if host is not None:
        options.append((host, "MemAvailable"))
    if cgroup is not None:
        options.append((cgroup[0], f"{cgroup[1]} limit minus usage"))
    if not options:
        return Available(_UNLIMITED, "unknown (no /proc/meminfo or cgroup limit)")
    return Available(*min(options))


@dataclass(frozen=True)
class Need:
    """Memory one rank needs to hold its shares (``in_memory``) or to stream them (``streaming``)."""

    in_memory: int
    streaming: int
    detail: str


def resident_bytes(status: Path = Path("/proc/self/status")) -> int:
    """This process's resident memory now (``VmRSS``): already counted as used, so not needed again."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


SCRATCH_ROWS = 65_536
"""``decode.READ_BATCH_ROWS``: the rows of one channel's conversion scratch (``decode.ChannelScratch``)."""


def estimate(shares: dict[str, int], features: int, largest_group_bytes: int, resident: int = 0) -> Need:
    """Bytes per rank still to be taken: float32 features and labels of its shares plus ``FIXED_BYTES`` in
    memory; a shuffle buffer, the largest row group being decoded and ``FIXED_BYTES`` when streaming. What the
    process holds already (``resident``: torch and pyarrow loaded) is part of the usage the available memory
    was computed from, so it comes off the fixed part (never below a quarter of it)."""
    row_bytes = 4 * (features + 1)
    data = sum(rows * row_bytes for rows in shares.values())
    # Channels load side by side, each through a float32 scratch of up to SCRATCH_ROWS rows of every feature:
    # with thousands of features that is hundreds of MiB per channel, beyond what FIXED_BYTES was measured with.
    data += sum(min(rows, SCRATCH_ROWS) for rows in shares.values()) * 4 * features
    fixed = max(FIXED_BYTES - resident, FIXED_BYTES // 4)
    detail = ", ".join(f"{name} {rows:,} rows" for name, rows in shares.items())
    return Need(data + fixed, SHUFFLE_BUFFER_BYTES * 3 // 2 + largest_group_bytes + fixed,
                f"{detail} x {features} features")  # fmt: skip


def choose(setting: str, need: Need, available: Available, ranks_on_host: int) -> tuple[str, str]:
    """``("memory" | "stream", reason)`` for ``data_loading=setting``; ``TrainingError`` when it cannot work."""
    budget = int(available.bytes * HEADROOM_FRACTION)
    in_memory, streaming = need.in_memory * ranks_on_host, need.streaming * ranks_on_host
    ranks = f" for {ranks_on_host} processes on this host" if ranks_on_host > 1 else ""
    have = f"{available.bytes / GIB:.2f} GiB available ({available.source})"
    holding = f"holding the data needs {in_memory / GIB:.2f} GiB{ranks} ({need.detail})"
    stream_need = f"streaming needs {streaming / GIB:.2f} GiB{ranks} (shuffle buffer and the largest row group)"
    if setting == "stream" or (setting == "auto" and in_memory > budget):
        if streaming > budget:
            raise TrainingError(
                f"not enough memory to train: {stream_need} and {holding}; {have}; use an instance type with "
                "more memory, or rewrite the data with smaller row groups (e.g. 128 MiB, as Spark writes them)"
            )
        why = "data_loading=stream" if setting == "stream" else f"{holding}, more than {HEADROOM_FRACTION:.0%} of"
        return "stream", f"streamed ({why} {have}); {stream_need}"
    if in_memory > budget:
        raise TrainingError(
            f"data_loading=memory: {holding}; {have}, of which {HEADROOM_FRACTION:.0%} is planned for; set "
            "data_loading=auto or stream to stream the data, or use an instance type with more memory or more "
            "instances"
        )
    return "memory", f"in memory ({holding}; {have})"
