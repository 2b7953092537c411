"""A retried step after a redeploy still reads its code; the deploy-time copy is allowed exactly what it does.

SageMaker Pipelines retries a step by starting a new job with the step's arguments from the
execution's own definition ("Retry policy for pipeline steps", SageMaker guide,
https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html), so a retry after a
redeploy downloads the bundle the *old* definition names, under the *new* policies.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from constructs_lib.config.default_trainer import default_trainer
from constructs_lib.training_pipeline import SageMakerTrainingPipeline
from tests.library.conftest import REGION, plain_stack
from tests.security.cfn_resolver import CfnEnvironment
from tests.security.conftest import ALL_STAGES, BuiltApp
from tests.security.deploy_calls import deploy_calls
from tests.security.execution_model import Execution
from tests.security.iam_evaluator import Decision
from tests.security.pipeline_calls import denials, describe, execution_calls
from tests.security.stack_iam import StackIam, stack_iam


def _authorized(stack: StackIam, calls: list[Any]) -> list[str]:
    return [f"{call} -> {d.value}" for call in calls if (d := stack.authorize(call.request())) is not Decision.ALLOW]


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_the_deploy_time_copy_is_allowed(built: BuiltApp, stack_models: dict[str, StackIam], stage: str) -> None:
    calls = deploy_calls(built.template(stage), stack_models[stage])
    assert {call.action for call in calls} == {"s3:GetObject", "s3:PutObject", "kms:GenerateDataKey"}
    assert all("/code/sourcedir-" in call.resource for call in calls if call.action == "s3:PutObject")
    assert _authorized(stack_models[stage], calls) == []


def _without(template: dict[str, Any], sid: str) -> dict[str, Any]:
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            document = resource["Properties"]["PolicyDocument"]
            document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]
    return template


def test_a_copy_without_its_write_grant_is_denied(built: BuiltApp) -> None:
    broken = _without(built.template("dev"), "WriteCodeBundle")
    stack = stack_iam(broken, CfnEnvironment(built.stacks["dev"].region))
    denied = _authorized(stack, deploy_calls(broken, stack))
    assert len(denied) == 1 and "s3:PutObject" in denied[0]


def _build(trainer_dir: Path) -> dict[str, Any]:
    stack = plain_stack()
    trainer = default_trainer().model_copy(update={"source_dir": trainer_dir})
    SageMakerTrainingPipeline(stack, "Pipeline", stage_name="team", trainer=trainer)
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


@pytest.fixture(scope="module")
def redeployed(tmp_path_factory: pytest.TempPathFactory) -> tuple[StackIam, StackIam]:
    """The same stage deployed with one version of the trainer, then redeployed with a changed one."""
    root = tmp_path_factory.mktemp("redeploy")
    old, new = root / "old", root / "new"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(default_trainer().source_dir, old, ignore=ignore)
    shutil.copytree(default_trainer().source_dir, new, ignore=ignore)
    (new / "train.py").write_text((new / "train.py").read_text() + "\n# changed\n")
    env = CfnEnvironment(REGION)
    return stack_iam(_build(old), env), stack_iam(_build(new), env)


def _bundle_reads(execution: Execution) -> list[str]:
    return [c.resource for c in execution_calls(execution) if c.row.endswith("code bundle: read")]


def test_a_step_retried_after_a_redeploy_reads_the_old_bundle(redeployed: tuple[StackIam, StackIam]) -> None:
    old, new = redeployed
    (old_bundle,) = _bundle_reads(Execution(old))
    (new_bundle,) = _bundle_reads(Execution(new))
    assert old_bundle != new_bundle and "/code/sourcedir-" in old_bundle
    retried = Execution(dataclasses.replace(new, definition=old.definition))  # old definition, new policies
    assert _bundle_reads(retried) == [old_bundle]
    denied = denials(retried)
    assert denied == [], describe(denied)


def test_a_grant_on_the_current_bundle_only_would_deny_the_retry(redeployed: tuple[StackIam, StackIam]) -> None:
    """Negative case: the grant before this fix named the current bundle's object only."""
    old, new = redeployed
    (new_bundle,) = _bundle_reads(Execution(new))
    role = new.roles[str(Execution(new).value(new.definition["Steps"][0]["Arguments"]["RoleArn"]))]
    policies = copy.deepcopy(role.identity_policies)
    for policy in policies:
        for statement in policy["Statement"]:
            if statement.get("Sid") == "ReadCodeBundle":
                statement["Resource"] = new_bundle
    pinned = dataclasses.replace(
        new, roles={**new.roles, role.arn: dataclasses.replace(role, identity_policies=policies)}
    )
    assert denials(Execution(pinned)) == []
    denied = denials(Execution(dataclasses.replace(pinned, definition=old.definition)))
    assert [call.row for call, _ in denied] == ["ModelTraining: code bundle: read"], describe(denied)


def test_no_lifecycle_rule_expires_the_code_bundles(built: BuiltApp) -> None:
    """An age-based expiry would delete the bundle of a pipeline whose code has not changed since."""
    template = built.template("dev")
    (artifacts,) = [
        r
        for k, r in template["Resources"].items()
        if k.startswith("StorageArtifactsBucket") and r["Type"] == "AWS::S3::Bucket"
    ]
    for rule in artifacts["Properties"]["LifecycleConfiguration"]["Rules"]:
        covers_code = "code/".startswith(rule.get("Prefix", "")) or rule.get("Prefix", "").startswith("code/")
        if covers_code:
            assert "ExpirationInDays" not in rule, (
                rule
            )  # noncurrent-version expiry is fine: bundles are never overwritten


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_every_python_function_runs_the_newest_python_runtime(built: BuiltApp, stage: str) -> None:
    """What cdk-nag's AwsSolutions-L1 checks on typed functions, held for every function in the template,
    including the code-copy function, which is a generic ``CfnResource`` that cdk-nag does not inspect.
    The newest runtime is the last Python one in CDK's ``Runtime.ALL`` (aws-cdk-lib's list of Lambda's
    runtimes, "Lambda runtimes", https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)."""
    from aws_cdk import aws_lambda

    pythons = [runtime.name for runtime in aws_lambda.Runtime.ALL if runtime.name.startswith("python3.")]
    newest = max(pythons, key=lambda name: tuple(int(part) for part in name.removeprefix("python").split(".")))
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in built.template(stage)["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Runtime"].startswith("python")
    }
    assert any(logical_id.startswith("CodeCopyFunction") for logical_id in functions), sorted(functions)
    stale = {logical_id: props["Runtime"] for logical_id, props in functions.items() if props["Runtime"] != newest}
    assert not stale, f"not {newest}: {stale}"
