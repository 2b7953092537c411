"""Guards that watch a synth for network use: a Python socket guard and a network namespace.

The socket guard is a ``sitecustomize`` module that records, then refuses, every IPv4/IPv6
connection and name lookup made by Python. ``unshare -n`` (where the machine permits it) runs a
whole command, the Node CLI and jsii included, in a network namespace with no interfaces.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

SOCKET_GUARD = textwrap.dedent(
    """
    import os, socket

    _LOG = os.environ["SOCKET_GUARD_LOG"]

    def _refuse(*args, **kwargs):
        with open(_LOG, "a") as log:
            log.write(repr(args[:2]) + "\\n")
        raise OSError("network access blocked by the offline synth test")

    _connect = socket.socket.connect

    def _guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _refuse(address)
        return _connect(self, address)

    socket.socket.connect = _guarded_connect
    socket.getaddrinfo = _refuse
    socket.create_connection = _refuse
    """
)


def install_socket_guard(directory: Path) -> dict[str, str]:
    """Write the guard into ``directory``; returns the environment that activates it and names its log."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SOCKET_GUARD)
    return {"PYTHONPATH": str(directory), "SOCKET_GUARD_LOG": str(directory / "socket-attempts.log")}


def network_namespace_prefix() -> list[str]:
    """``unshare -n`` (a network namespace with no interfaces) where this machine allows it."""
    try:
        ok = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
    except FileNotFoundError:
        ok = False
    return ["unshare", "-n"] if ok else []
