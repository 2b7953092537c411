"""Run the jsii runtime behind ``aws_cdk`` on the project's pinned Node.js, however the app is started.

``make synth`` puts ``node_modules/.bin`` first on ``PATH``, but ``npx cdk synth``,
``node_modules/.bin/cdk synth`` or a global ``cdk`` run ``app.py`` with the caller's ``PATH``,
where ``node`` may be an end-of-life release: jsii then prints its support banner on every
synth. jsii reads ``JSII_NODE`` when it starts its runtime, which happens when ``aws_cdk`` is
first imported, so this must run before that import. Stdlib only.
"""

from __future__ import annotations

import os
from pathlib import Path


def use_pinned_node(project_root: Path) -> None:
    """Set ``JSII_NODE`` to ``<project_root>/node_modules/.bin/node`` when it exists and none is set."""
    pinned = project_root / "node_modules" / ".bin" / "node"
    if pinned.is_file():
        os.environ.setdefault("JSII_NODE", str(pinned))
