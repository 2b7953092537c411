"""Run a command inside a memory-capped cgroup (v1: a child of this process's own memory cgroup) and report
its peak RSS, for the big-data test and ``make bench-train``.

A process over a cgroup's limit is killed by the kernel's OOM killer with SIGKILL (cgroup-v1 memory.rst,
"When a cgroup goes over its limit, we first try to reclaim memory from the cgroup ... If the reclaim is
unsuccessful, an OOM routine is invoked"; cgroup-v2.rst, ``memory.max``): SageMaker's ``ExitCode -9`` with
an empty reason. The child writes its own pid into the cgroup before ``exec``, so everything it starts is
capped, and reports ``ru_maxrss`` of the command it waited for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOT = Path("/sys/fs/cgroup")
CHILD = """import json, resource, subprocess, sys
with open(sys.argv[1], "w") as procs:
    procs.write("0")  # "0" moves the writing process itself into the cgroup
result = subprocess.run(sys.argv[3:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
with open(sys.argv[2], "w") as report:
    json.dump({"returncode": result.returncode, "peak_rss": peak}, report)
"""


def _own_cgroup() -> tuple[Path, str] | None:
    """This process's memory cgroup folder and its version, where we may create a child (root only)."""
    if os.geteuid() != 0:
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(",") and V1_ROOT.is_dir():
            folder = V1_ROOT / path.lstrip("/")
            return (folder if folder.is_dir() else V1_ROOT), "v1"
        if hierarchy == "0" and not controllers and (V2_ROOT / "cgroup.controllers").exists():
            folder = V2_ROOT / path.lstrip("/")
            if "memory" in (folder / "cgroup.subtree_control").read_text().split():
                return folder, "v2"
    return None


def can_cap() -> bool:
    """Whether ``run_capped`` can create a memory-capped cgroup here."""
    return _own_cgroup() is not None


def run_capped(command: list[str], limit_bytes: int, env: dict[str, str], timeout: float) -> tuple[int, int, str]:
    """``(returncode, peak RSS bytes, output)`` of ``command`` run under a ``limit_bytes`` memory cgroup."""
    found = _own_cgroup()
    if found is None:
        raise RuntimeError("no memory cgroup this process may create a child in (needs root and cgroup v1 or v2)")
    parent, version = found
    group = Path(tempfile.mkdtemp(prefix="trainer-cap-", dir=parent))
    try:
        if version == "v1":
            (group / "memory.limit_in_bytes").write_text(str(limit_bytes))
        else:
            (group / "memory.max").write_text(str(limit_bytes))
            (group / "memory.swap.max").write_text("0")
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "report.json"
            child = [sys.executable, "-c", CHILD, str(group / "cgroup.procs"), str(report), *command]
            result = subprocess.run(child, env=env, capture_output=True, text=True, timeout=timeout, check=False)
            measured = json.loads(report.read_text()) if report.exists() else {"returncode": -9, "peak_rss": 0}
        return int(measured["returncode"]), int(measured["peak_rss"]), result.stdout + result.stderr
    finally:
        group.rmdir()
