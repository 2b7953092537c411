"""`cdk synth` needs no AWS account, credentials or network, and is byte-for-byte repeatable."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cdk_synth

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
def offline_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synth with AWS_* removed, an empty HOME, Python sockets blocked, and a fresh render (no cache)."""
    root = tmp_path_factory.mktemp("offline")
    (root / "guard").mkdir()
    (root / "guard" / "sitecustomize.py").write_text(SOCKET_GUARD)
    log = root / "socket-attempts.log"
    outdir = root / "cdk.out"
    result = run_cdk_synth(
        outdir,
        PYTHONPATH=str(root / "guard"),
        SOCKET_GUARD_LOG=str(log),
        PIPELINE_DEFINITION_CACHE="off",
        prefix=network_namespace_prefix(),
    )
    assert result.returncode == 0, result.stderr
    assert not log.exists(), f"synth tried to reach the network: {log.read_text()}"
    return outdir


def test_synth_works_offline_without_credentials(offline_synth: Path) -> None:
    assert {f"SageMakerTraining-{s}.template.json" for s in ("dev", "prod")} <= set(synth_files(offline_synth))


def test_socket_guard_really_blocks(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(SOCKET_GUARD)
    log = tmp_path / "log"
    code = (
        "import socket\ntry:\n    socket.create_connection(('example.com', 443), timeout=1)\nexcept OSError:\n    pass"
    )
    env = {"PYTHONPATH": str(tmp_path), "SOCKET_GUARD_LOG": str(log), "PATH": "/usr/bin:/bin"}
    subprocess.run([str(Path(".venv/bin/python").resolve()), "-c", code], env=env, check=True)
    assert "example.com" in log.read_text()


def test_two_syntheses_are_byte_identical(offline_synth: Path, tmp_path: Path) -> None:
    """Fresh render (offline_synth) vs cold cache vs warm cache: the same bytes every time."""
    cache = tmp_path / "render-cache"
    cold, warm = tmp_path / "cold", tmp_path / "warm"
    for outdir in (cold, warm):
        result = run_cdk_synth(outdir, PIPELINE_DEFINITION_CACHE_DIR=str(cache))
        assert result.returncode == 0, result.stderr
    assert len(list(cache.glob("*.json"))) == 2, "one cached definition per stage"
    reference = synth_files(offline_synth)
    assert synth_files(cold) == reference
    assert synth_files(warm) == reference
