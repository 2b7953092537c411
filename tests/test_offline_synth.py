"""`cdk synth` needs no AWS account, credentials or network, and is byte-for-byte repeatable.

Two guards watch the synth: a ``sitecustomize`` socket guard records any network attempt by
Python, and, where the machine permits it, ``unshare -n`` runs the whole synth (the Node CLI and
jsii included) in a network namespace with no interfaces. Where ``unshare -n`` is not permitted,
the Node half is reported as skipped, not silently assumed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, STAGES, SessionSynth, run_cdk_synth
from tests.offline_guard import install_socket_guard

NODE = PROJECT_ROOT / "node_modules" / ".bin" / "node"
NODE_CONNECT_PROBE = "require('net').connect(443, '1.1.1.1').on('error', e => console.log(e.code))"
NO_NAMESPACE = (
    "`unshare -n` is not permitted on this machine: the synth ran without a network namespace, so the Node "
    "CLI's and jsii's network use was NOT observed (only Python's sockets were guarded)"
)


def synth_files(outdir: Path) -> dict[str, bytes]:
    """Templates, asset manifests and assets of a cloud assembly, by name."""
    return {
        path.name: path.read_bytes()
        for path in sorted(outdir.iterdir())
        if path.name.endswith((".template.json", ".assets.json", ".tar.gz"))
    }


def test_synth_works_offline_without_credentials(session_synth: SessionSynth) -> None:
    """The session's synth ran with AWS_* removed, an empty HOME and Python's sockets guarded."""
    files = set(synth_files(session_synth.outdir))
    assert {f"SageMakerTraining-{s}.template.json" for s in ("dev", "prod")} <= files
    assert not session_synth.socket_log.exists(), (
        f"synth tried to reach the network: {session_synth.socket_log.read_text()}"
    )


def test_the_node_cli_synthesized_without_a_network(session_synth: SessionSynth) -> None:
    """The session's synth ran in `unshare -n`, where Node cannot open a connection (the probe proves it)."""
    if not session_synth.in_network_namespace:
        pytest.skip(NO_NAMESPACE)
    probe = subprocess.run(
        ["unshare", "-n", str(NODE), "-e", NODE_CONNECT_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert probe.stdout.strip() == "ENETUNREACH", probe.stdout + probe.stderr


def test_socket_guard_really_blocks(tmp_path: Path) -> None:
    guard = install_socket_guard(tmp_path)
    code = (
        "import socket\ntry:\n    socket.create_connection(('example.com', 443), timeout=1)\nexcept OSError:\n    pass"
    )
    env = {**guard, "PATH": "/usr/bin:/bin"}
    subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "python"), "-c", code], env=env, check=True)
    assert "example.com" in Path(guard["SOCKET_GUARD_LOG"]).read_text()


def test_a_warm_cache_synth_is_byte_identical(session_synth: SessionSynth, tmp_path: Path) -> None:
    """The session's synth rendered every definition with the SDK into an empty cache; this one reads
    them back from that cache (it never imports the SDK): the same bytes, asset hashes included."""
    cached = sorted(session_synth.cache_dir.glob("*.json"))
    assert len(cached) == len(STAGES), "one cached definition per stage"
    result = run_cdk_synth(tmp_path / "warm", PIPELINE_DEFINITION_CACHE_DIR=str(session_synth.cache_dir))
    assert result.returncode == 0, result.stderr
    assert sorted(session_synth.cache_dir.glob("*.json")) == cached, "a warm synth adds nothing to the cache"
    assert synth_files(tmp_path / "warm") == synth_files(session_synth.outdir)
