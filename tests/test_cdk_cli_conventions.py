"""The CDK CLI run directly behaves like ``make synth``: pinned Node for jsii, every feature flag configured.

The session's synth (``tests/conftest.py``) is that direct run: ``node_modules/.bin/cdk synth`` with a
PATH that holds neither the venv nor the pinned Node. The negative case, a ``cdk.json`` without flags,
is the installed example's synth (``tests/library/test_installed_example.py``).
"""

from __future__ import annotations

from tests.conftest import SessionSynth


def test_direct_cli_synth_succeeds_without_the_jsii_node_banner(session_synth: SessionSynth) -> None:
    # jsii prints its Node support banner (as Python bytes literals, b'!!  ...') when it runs on an
    # unsupported Node; app.py points it at node_modules/.bin/node through JSII_NODE.
    assert "b'!!" not in session_synth.output and "end-of-life" not in session_synth.output, session_synth.output[
        -2000:
    ]


def test_every_recommended_feature_flag_is_configured(session_synth: SessionSynth) -> None:
    """The CLI counts flags that `cdk init` would set but cdk.json lacks, and says so on every synth."""
    assert "feature flags are not configured" not in session_synth.output
