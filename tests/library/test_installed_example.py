"""The library as another app uses it: a wheel in a fresh venv, the example copied out, no flags, real ``cdk synth``.

The wheel is built from a copy of the tracked files, as ``pip install git+<url>`` builds from a clone.
The fresh venv gets the wheel and nothing else of this repository; its dependencies come from this
project's ``.venv`` through a ``.pth`` file (``pip check`` proves the wheel's declared dependencies are
met by them), so the test needs no network and stays fast.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, offline_env, step_named
from tests.security.cfn_resolver import CfnEnvironment, TemplateResolver, pipeline_definition
from tests.security.execution_model import Execution
from tests.security.pipeline_calls import denials, describe
from tests.security.stack_iam import stack_iam

pytestmark = pytest.mark.slow
EXAMPLE = PROJECT_ROOT / "examples" / "custom_trainer"
PIP = [sys.executable, "-m", "pip"]


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(work: Path) -> Path:
    """``pip wheel`` of a copy of the tracked and untracked-but-not-ignored files (what a clone holds)."""
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT).stdout.split()
    source = work / "source"
    for name in files:
        if (PROJECT_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, source / name)
    run([*PIP, "wheel", "--no-deps", "--no-build-isolation", "--quiet", "--wheel-dir", str(work / "dist"), str(source)])
    (wheel,) = (work / "dist").glob("*.whl")
    return wheel


def fresh_venv(work: Path, wheel: Path) -> tuple[Path, Path]:
    """A new venv holding only the wheel; dependencies visible through a ``.pth`` to this project's .venv."""
    venv = work / "fresh"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site_packages = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    )
    (site_packages / "zz_project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([*PIP, "--python", str(python), "install", "--no-deps", "--no-index", "--quiet", str(wheel)])
    run([*PIP, "--python", str(python), "check"])
    return python, site_packages


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*")}


@dataclass(frozen=True)
class Installed:
    app_dir: Path
    template: dict[str, Any]
    site_packages: Path
    package_before: dict[str, tuple[int, int]]
    package_after: dict[str, tuple[int, int]]
    cdk_json: dict[str, Any]
    output: str


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("installed")
    python, site_packages = fresh_venv(work, build_wheel(work))
    app_dir = work / "app"
    shutil.copytree(EXAMPLE, app_dir, ignore=shutil.ignore_patterns(".build", ".cache", "cdk.out", "__pycache__"))
    cdk_json = json.loads((app_dir / "cdk.json").read_text())
    cdk_json["context"] = {key: value for key, value in cdk_json["context"].items() if not key.startswith("@aws-cdk")}
    cdk_json["app"] = f"{python} app.py"
    (app_dir / "cdk.json").write_text(json.dumps(cdk_json))
    package = site_packages / "constructs_lib"
    before = snapshot(package)
    home = work / "home"
    home.mkdir()
    cdk = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
    env = offline_env(HOME=str(home))
    env.pop("PYTHONPATH", None)
    env.pop("PIPELINE_DEFINITION_CACHE_DIR", None)
    synth = run([str(cdk), "synth", "--quiet", "--no-notices"], cwd=app_dir, env={**env, "PYTHONNOUSERSITE": "1"})
    template = json.loads((app_dir / "cdk.out" / "ChurnTraining.template.json").read_text())
    return Installed(app_dir, template, site_packages, before, snapshot(package), cdk_json, synth.stdout + synth.stderr)


def test_the_wheel_holds_the_library_and_the_bundled_trainer(installed: Installed) -> None:
    package = installed.site_packages / "constructs_lib"
    # every module of the library, the automation constructs and the deployer Lambda's code included
    library = PROJECT_ROOT / "constructs_lib"
    modules = {str(p.relative_to(library)) for p in library.rglob("*.py") if "__pycache__" not in p.parts}
    shipped = {str(p.relative_to(package)) for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= shipped, sorted(modules - shipped)
    assert "automation/runtime/endpoint_deployer/handler.py" in shipped
    assert (package / "default_trainer" / "train.py").is_file()
    assert (package / "default_trainer" / "contract.py").is_file()
    assert (package / "default_trainer" / "requirements.txt").is_file()
    assert (package / "config" / "requires_python.json").is_file()
    for app_only in ("stacks", "ops", "app.py", "training_src", "tests"):
        assert not (installed.site_packages / app_only).exists(), app_only


def test_it_synthesized_with_no_feature_flags(installed: Installed) -> None:
    assert not any(key.startswith("@aws-cdk") for key in installed.cdk_json["context"])
    # The CLI says so: the negative case of tests/test_cdk_cli_conventions.py (this repository's app has them all).
    assert "feature flags are not configured" in installed.output
    types = {resource["Type"] for resource in installed.template["Resources"].values()}
    assert {"AWS::SageMaker::Pipeline", "AWS::SageMaker::ModelPackageGroup", "AWS::KMS::Key"} <= types


def test_the_code_asset_is_the_examples_trainer(installed: Installed) -> None:
    assets = list((installed.app_dir / "cdk.out").glob("asset.*.tar.gz"))
    assert len(assets) == 1
    with tarfile.open(assets[0], "r:gz") as bundle:
        names = sorted(bundle.getnames())
    assert names == sorted(p.name for p in (EXAMPLE / "trainer").iterdir() if p.is_file())
    with tarfile.open(assets[0], "r:gz") as bundle:
        extracted = bundle.extractfile("fit.py")
        assert extracted is not None and extracted.read() == (EXAMPLE / "trainer" / "fit.py").read_bytes()


def test_the_metrics_and_the_gate_are_the_examples_own(installed: Installed) -> None:
    definition = pipeline_definition(
        installed.template, TemplateResolver(installed.template, CfnEnvironment("us-east-1"))
    )
    metrics = step_named(definition, "ModelTraining")["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    assert [metric["Name"] for metric in metrics] == ["training:log_loss", "validation:accuracy"]
    gate = step_named(definition, "QualityGate")["Arguments"]["Conditions"][0]["LeftValue"]["Get"]
    assert gate == "Steps.ModelTraining.FinalMetricDataList['validation:accuracy'].Value"
    (threshold,) = [p for p in definition["Parameters"] if p["Name"] == "QualityThreshold"]
    assert threshold["DefaultValue"] == 0.6


def test_the_permission_matrix_allows_every_call_of_its_roles(installed: Installed) -> None:
    for lowercase in (False, True):
        denied = denials(
            Execution(stack_iam(installed.template, CfnEnvironment("us-east-1")), lowercase_job_names=lowercase)
        )
        assert denied == [], describe(denied)


def test_nothing_was_written_into_site_packages(installed: Installed) -> None:
    assert installed.package_after == installed.package_before
    assert (installed.app_dir / ".build" / "bundles").is_dir()  # next to the app's cdk.json instead
    assert list((installed.app_dir / ".cache" / "pipeline-definitions").glob("*.json"))
