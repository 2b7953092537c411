"""Where synth writes what it builds: the code bundles and the render cache.

Never inside the installed package (site-packages may be read-only, and is shared by every app):
next to the app's ``cdk.json`` when synth runs there, as the CDK CLI runs every app; otherwise
in the app's cloud assembly folder (``cdk.out``, or the ``outdir`` a test gives the ``App``).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Stage
from constructs import IConstruct

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLES = Path(".build") / "bundles"
RENDER_CACHE = Path(".cache") / "pipeline-definitions"


def synth_work_dir(scope: IConstruct) -> Path:
    """The folder that holds ``.build/bundles`` and ``.cache/pipeline-definitions`` for ``scope``'s app."""
    app_dir = Path.cwd().resolve()
    if (app_dir / "cdk.json").is_file() and not app_dir.is_relative_to(PACKAGE_DIR):
        return app_dir
    stage = Stage.of(scope)
    assert stage is not None, "a construct in an App always has a Stage"
    return Path(stage.outdir).resolve()


def bundle_dir(scope: IConstruct) -> Path:
    """Where the code bundles of ``scope``'s app are written before CDK stages them as assets."""
    return synth_work_dir(scope) / BUNDLES


def render_cache_dir(scope: IConstruct) -> Path:
    """Where rendered pipeline definitions are cached for ``scope``'s app."""
    return synth_work_dir(scope) / RENDER_CACHE
