"""Shared fixtures: one real, offline `cdk synth` of the app per test session."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from constructs_lib.definition.checks import all_steps
from constructs_lib.node_runtime import use_pinned_node
from tests.offline_guard import install_socket_guard, network_namespace_prefix

PROJECT_ROOT = Path(__file__).resolve().parent.parent
use_pinned_node(PROJECT_ROOT)  # in-process app builds start jsii on the pinned Node, as app.py does
STAGES = ("dev", "prod")


def offline_env(**extra: str) -> dict[str, str]:
    """The environment with every AWS_* variable removed, HOME pointed away from ~/.aws, Node 22 first."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["PATH"] = f"{PROJECT_ROOT / 'node_modules' / '.bin'}:{PROJECT_ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["SAGEMAKER_SUPPRESS_V2_WARNING"] = "1"
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    env.update(extra)
    return env


CDK_CLI = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"
"""A PATH with neither the venv nor the pinned Node: how ``node_modules/.bin/cdk synth`` is often run."""


def run_cdk_synth(
    outdir: Path, *args: str, prefix: list[str] | None = None, bare_path: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the real CDK CLI's `cdk synth` into ``outdir``, offline (``prefix`` wraps the command).

    ``bare_path``: run it as ``node_modules/.bin/cdk`` with ``BARE_PATH``, so jsii finds the pinned Node
    only through ``app.py`` (``JSII_NODE``), as when a user runs the CLI directly.
    """
    home = outdir.parent / f"{outdir.name}-home"
    home.mkdir(exist_ok=True)
    environment = offline_env(HOME=str(home), **env)
    if bare_path:
        environment["PATH"] = BARE_PATH
    return subprocess.run(
        [*(prefix or []), str(CDK_CLI), "synth", "--quiet", "--no-notices", "--output", str(outdir), *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass(frozen=True)
class SessionSynth:
    """The session's one real `cdk synth` of every default stage, and how it was watched.

    Attributes:
        outdir: its cloud assembly.
        cache_dir: the render cache it started empty and filled (a later synth reusing it is warm).
        socket_log: where the Python socket guard records network attempts (absent: none).
        in_network_namespace: whether it ran under ``unshare -n`` (Node and jsii had no network).
        output: what the CLI printed (stdout and stderr).
    """

    outdir: Path
    cache_dir: Path
    socket_log: Path
    in_network_namespace: bool
    output: str


@pytest.fixture(scope="session")
def session_synth(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> SessionSynth:
    """One offline synth: AWS_* removed, an empty HOME, Python sockets guarded, ``unshare -n`` where
    permitted, a cold render cache (every definition is rendered by the SDK in this run), and the CLI run
    as ``node_modules/.bin/cdk`` with a PATH that holds neither the venv nor the pinned Node.

    Made once per test run: the xdist workers share it through a file lock in their common temp folder.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base
    record = shared / "session-synth.json"
    with FileLock(str(shared / "session-synth.lock")):
        if record.is_file():
            fields = json.loads(record.read_text())
            return SessionSynth(
                Path(fields["outdir"]),
                Path(fields["cache_dir"]),
                Path(fields["socket_log"]),
                bool(fields["in_network_namespace"]),
                str(fields["output"]),
            )
        root = shared / "session-synth"
        guard = install_socket_guard(root / "guard")
        prefix = network_namespace_prefix()
        cache_dir = root / "render-cache"
        outdir = root / "cdk.out"
        result = run_cdk_synth(
            outdir, prefix=prefix, bare_path=True, PIPELINE_DEFINITION_CACHE_DIR=str(cache_dir), **guard
        )
        assert result.returncode == 0, result.stderr
        synth = SessionSynth(
            outdir, cache_dir, Path(guard["SOCKET_GUARD_LOG"]), bool(prefix), result.stdout + result.stderr
        )
        record.write_text(
            json.dumps(
                {**{k: str(v) for k, v in vars(synth).items()}, "in_network_namespace": synth.in_network_namespace}
            )
        )
        return synth


@pytest.fixture(scope="session")
def synthesized_outdir(session_synth: SessionSynth) -> Path:
    """cdk.out of the session's synth of every default stage."""
    return session_synth.outdir


@pytest.fixture(scope="session")
def templates(synthesized_outdir: Path) -> dict[str, dict[str, Any]]:
    """Stage name -> synthesized CloudFormation template."""
    return {
        stage: json.loads((synthesized_outdir / f"SageMakerTraining-{stage}.template.json").read_text())
        for stage in STAGES
    }


def pipeline_definition_parts(template: dict[str, Any]) -> list[Any]:
    """The ``Fn::Join`` parts of the template's pipeline definition body."""
    pipelines = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    assert len(pipelines) == 1
    body = pipelines[0]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    return list(body["Fn::Join"][1])


def token_name(token: dict[str, Any]) -> str:
    """A readable stand-in for a CDK token: ``Ref:X``, ``GetAtt:X.Arn`` or ``Sub:...``."""
    if "Ref" in token:
        return f"Ref:{token['Ref']}"
    if "Fn::GetAtt" in token:
        return "GetAtt:" + ".".join(token["Fn::GetAtt"])
    return f"Sub:{token['Fn::Sub']}"


def definition_of(template: dict[str, Any]) -> dict[str, Any]:
    """The pipeline definition as a dict, each CDK token replaced by ``token_name``."""
    parts = pipeline_definition_parts(template)
    text = "".join(part if isinstance(part, str) else token_name(part) for part in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def step_named(definition: dict[str, Any], name: str) -> dict[str, Any]:
    """The step called ``name``, at the top level or inside a Condition step's branches."""
    (step,) = [step for step in all_steps(definition["Steps"]) if step["Name"] == name]
    return step


def training_arguments(template: dict[str, Any]) -> dict[str, Any]:
    """The ``Arguments`` of the ``ModelTraining`` step of the template's pipeline."""
    step = step_named(definition_of(template), "ModelTraining")
    assert step["Type"] == "Training"
    arguments: dict[str, Any] = step["Arguments"]
    return arguments


def evaluate(expression: Any, definition: dict[str, Any]) -> Any:
    """A ``Std:Join`` / ``Get: Parameters.X`` expression with each parameter at its default value."""
    if isinstance(expression, dict) and "Std:Join" in expression:
        join = expression["Std:Join"]
        return join["On"].join(str(evaluate(value, definition)) for value in join["Values"])
    if isinstance(expression, dict) and str(expression.get("Get", "")).startswith("Parameters."):
        name = expression["Get"].removeprefix("Parameters.")
        (parameter,) = [p for p in definition["Parameters"] if p["Name"] == name]
        return parameter["DefaultValue"]
    return expression


def submit_directory_asset_hash(template: dict[str, Any]) -> str:
    """The asset hash of the code bundle the pipeline's ``sagemaker_submit_directory`` is copied from.

    The definition names ``s3://<artifacts bucket>/code/sourcedir-<sha>.tar.gz``; the custom resource that
    copies it there names the CDK asset it copies (``SourceKey``).
    """
    definition = json.dumps(pipeline_definition_parts(template))
    (bundle,) = set(re.findall(r"code/(sourcedir-[0-9a-f]{16}\.tar\.gz)", definition))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "Custom::CodeBundleCopy" and properties.get("Key") == f"code/{bundle}":
            return str(properties["SourceKey"]).removesuffix(".gz")
    raise AssertionError(f"no custom resource copies {bundle} from a CDK asset")


@pytest.fixture(scope="session")
def source_bundle_path(synthesized_outdir: Path, templates: dict[str, dict[str, Any]]) -> Path:
    """The exact code bundle the dev stage's pipeline points at, as packaged in cdk.out."""
    path = synthesized_outdir / f"asset.{submit_directory_asset_hash(templates['dev'])}.tar.gz"
    assert path.is_file(), f"{path} missing from cdk.out"
    return path


SLOW_FIRST = (
    "tests/training/test_ranks.py",
    "tests/training/test_train_e2e.py",
    "tests/training/test_toolkit.py",
    "tests/library/test_installed_example.py",
    "tests/training/test_resume.py",
    "tests/test_offline_synth.py",
    "tests/training/",
)
"""Files that take longest, handed out first: xdist gives each worker the next file when it is free, so
long files last would leave one worker running them alone at the end (order only; each file's own order
is kept)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)
