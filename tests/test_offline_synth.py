"""`cdk synth` needs no AWS account, credentials or network, and is byte-for-byte repeatable.

Two guards watch the synth: a ``sitecustomize`` socket guard records any network attempt by
Python, and, where the machine permits it, ``unshare -n`` runs the whole synth (the Node CLI and
jsii included) in a network namespace with no interfaces. Where ``unshare -n`` is not permitted,
the Node half is reported as skipped, not silently assumed.
"""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, run_cdk_synth

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


NODE = PROJECT_ROOT / "node_modules" / ".bin" / "node"
NODE_CONNECT_PROBE = "require('net').connect(443, '1.1.1.1').on('error', e => console.log(e.code))"
NO_NAMESPACE = (
    "`unshare -n` is not permitted on this machine: the synth ran without a network namespace, so the Node "
    "CLI's and jsii's network use was NOT observed (only Python's sockets were guarded)"
)


@dataclass(frozen=True)
class OfflineSynth:
    """A finished offline synth, and whether it ran in a network namespace with no interfaces."""

    outdir: Path
    in_network_namespace: bool


def network_namespace_prefix() -> list[str]:
    """``unshare -n`` (a network namespace with no interfaces) where this machine allows it."""
    try:
        ok = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0
    except FileNotFoundError:
        ok = False
    return ["unshare", "-n"] if ok else []


def synth_files(outdir: Path) -> dict[str, bytes]:
    """Templates, asset manifests and assets of a cloud assembly, by name."""
    return {
        path.name: path.read_bytes()
        for path in sorted(outdir.iterdir())
        if path.name.endswith((".template.json", ".assets.json", ".tar.gz"))
    }


@pytest.fixture(scope="module")
def offline_synth(tmp_path_factory: pytest.TempPathFactory) -> OfflineSynth:
    """A synth with AWS_* removed, an empty HOME, Python sockets blocked, and a fresh render (no cache)."""
    root = tmp_path_factory.mktemp("offline")
    (root / "guard").mkdir()
    (root / "guard" / "sitecustomize.py").write_text(SOCKET_GUARD)
    log = root / "socket-attempts.log"
    outdir = root / "cdk.out"
    prefix = network_namespace_prefix()
    result = run_cdk_synth(
        outdir,
        PYTHONPATH=str(root / "guard"),
        SOCKET_GUARD_LOG=str(log),
        PIPELINE_DEFINITION_CACHE="off",
        prefix=prefix,
    )
    assert result.returncode == 0, result.stderr
    assert not log.exists(), f"synth tried to reach the network: {log.read_text()}"
    return OfflineSynth(outdir, bool(prefix))


def test_synth_works_offline_without_credentials(offline_synth: OfflineSynth) -> None:
    files = set(synth_files(offline_synth.outdir))
    assert {f"SageMakerTraining-{s}.template.json" for s in ("dev", "prod")} <= files


def test_the_node_cli_synthesized_without_a_network(offline_synth: OfflineSynth) -> None:
    """The synth above ran in `unshare -n`, where Node cannot open a connection (the probe proves it)."""
    if not offline_synth.in_network_namespace:
        pytest.skip(NO_NAMESPACE)
    probe = subprocess.run(
        ["unshare", "-n", str(NODE), "-e", NODE_CONNECT_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert probe.stdout.strip() == "ENETUNREACH", probe.stdout + probe.stderr


def test_socket_guard_really_blocks(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(SOCKET_GUARD)
    log = tmp_path / "log"
    code = (
        "import socket\ntry:\n    socket.create_connection(('example.com', 443), timeout=1)\nexcept OSError:\n    pass"
    )
    env = {"PYTHONPATH": str(tmp_path), "SOCKET_GUARD_LOG": str(log), "PATH": "/usr/bin:/bin"}
    subprocess.run([str(Path(".venv/bin/python").resolve()), "-c", code], env=env, check=True)
    assert "example.com" in log.read_text()


def test_two_syntheses_are_byte_identical(offline_synth: OfflineSynth, tmp_path: Path) -> None:
    """Fresh render (offline_synth) vs cold cache vs warm cache: the same bytes every time."""
    cache = tmp_path / "render-cache"
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for outdir in (cold, warm):
        result = run_cdk_synth(outdir, PIPELINE_DEFINITION_CACHE_DIR=str(cache))
        assert result.returncode == 0, result.stderr
    assert len(list(cache.glob("*.json"))) == 2, "one cached definition per stage"
    reference = synth_files(offline_synth.outdir)
    assert synth_files(cold) == reference
    assert synth_files(warm) == reference
