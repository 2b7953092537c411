#!/usr/bin/env python3
"""CDK app: one ``TrainingPipelineStack`` per stage in ``cdk.json`` (``-c stage=NAME`` for one)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from constructs_lib.node_runtime import use_pinned_node

PROJECT_ROOT = Path(__file__).resolve().parent
use_pinned_node(PROJECT_ROOT)  # before aws_cdk starts the jsii runtime

import aws_cdk as cdk  # noqa: E402  # after JSII_NODE is set above

from constructs_lib.config.cdk_json import read_cdk_json_context  # noqa: E402  # after JSII_NODE is set above
from constructs_lib.config.errors import ConfigError  # noqa: E402  # after JSII_NODE is set above
from constructs_lib.config.stage_config import load_stages  # noqa: E402  # after JSII_NODE is set above
from stacks.training_pipeline_stack import TrainingPipelineStack, stack_name_for  # noqa: E402  # after JSII_NODE is set above


def create_app(
    cdk_json: Path = PROJECT_ROOT / "cdk.json",
    *,
    context: dict[str, Any] | None = None,
    outdir: str | None = None,
) -> cdk.App:
    """Build the app: one stack per configured stage.

    Args:
        cdk_json: the file holding ``context.stages`` and the CDK feature flags.
        context: extra context, e.g. ``{"stage": "dev"}`` (the CLI's ``-c`` wins over both).
        outdir: cloud assembly folder; default as the CLI sets it.

    Raises:
        ConfigError: when ``cdk.json`` or a stage in it is invalid.
    """
    file_context = read_cdk_json_context(cdk_json)
    app = cdk.App(context={**file_context, **(context or {})}, outdir=outdir)
    selected = app.node.try_get_context("stage")
    for stage in load_stages(file_context, selected=selected, source=cdk_json.name):
        TrainingPipelineStack(app, stack_name_for(stage), stage=stage)
    return app


def main() -> None:
    """Synthesize the app from ``./cdk.json``; print config errors without a traceback and exit 1."""
    try:
        app = create_app(Path.cwd() / "cdk.json")  # the CDK CLI runs the app next to its cdk.json
    except ConfigError as error:
        print(f"Invalid configuration:\n{error}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
