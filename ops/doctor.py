"""``make doctor``: what the account would reject, checked before a deploy or a run.

Each check prints one line, ``✔`` or ``✘`` with what to do (``✔`` lines on stdout, ``✘`` on stderr):

* **AWS credentials**: STS GetCallerIdentity; the account must be the stage's ``account`` when set.
  Without usable credentials this is the only line.
* **CDK bootstrap**: the version in the stage's region, SSM parameter ``/cdk-bootstrap/<qualifier>/version``,
  against the version the synthesized templates require: ``requiresBootstrapStackVersion`` and
  ``bootstrapStackVersionSsmParameter`` of the stack and asset manifests in ``cdk.out``
  ("AwsCloudFormationStackProperties" and "AssetManifestOptions", CDK cloud assembly schema,
  https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.cloud_assembly_schema.AssetManifestOptions.html).
  The CDK CLI checks the same parameter at deploy time ("SSM parameter /cdk-bootstrap/hnb659fds/version
  not found. Has the environment been bootstrapped?"), after the templates are uploaded.
* **Training quota** (``ops.quotas``): ``<type> for training job usage`` (or ``for spot training job
  usage``) must be at least ``model.instance_count``; new accounts often have 0 for GPU types, and the
  pipeline's retry policy retries RESOURCE_LIMIT, so such a run failed only after ~15 minutes.
* **Deployed** (before a run): the stage's stack is deployed and its pipeline exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from ops.aws import CREDENTIALS_HELP, OperatorError, StageAws, describe_error, error_code
from ops.quotas import check_training_quota
from ops.stages import PROJECT_ROOT, make_hint, stack_name

CREDENTIALS, BOOTSTRAP, QUOTA, DEPLOYED = "credentials", "bootstrap", "quota", "deployed"
CHECKS = {
    "deploy": (CREDENTIALS, BOOTSTRAP, QUOTA),
    "start": (CREDENTIALS, QUOTA, DEPLOYED),
    "all": (CREDENTIALS, BOOTSTRAP, QUOTA, DEPLOYED),
}
"""Which checks run before what: ``make deploy`` needs no deployed stack, a run needs no bootstrap."""
ASSEMBLY = PROJECT_ROOT / "cdk.out"


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``✔ <name>: <text>`` or ``✘ <name>: <text>`` (the problem and what to do)."""

    name: str
    ok: bool
    text: str

    @property
    def line(self) -> str:
        """The line printed for it."""
        return f"{'✔' if self.ok else '✘'} {self.name}: {self.text}"


def aws_failure(name: str, aws: StageAws, error: Exception) -> Check:
    """A failed check from a botocore error, in the CLI's one-line wording (or re-raised if not one)."""
    message = describe_error(error, aws.stage.region)
    if message is None:
        raise error
    return Check(name, False, message)


def check_credentials(aws: StageAws) -> Check:
    """Whose credentials are in use; the account must be the one the stage pins."""
    name, stage = "AWS credentials", aws.stage
    try:
        identity = aws.caller_identity()
    except (BotoCoreError, ClientError) as error:
        return aws_failure(name, aws, error)
    if stage.account and identity["Account"] != stage.account:
        return Check(
            name,
            False,
            f"account {identity['Account']} ({identity['Arn']}), but cdk.json pins stage {stage.name} to account "
            f"{stage.account}: {CREDENTIALS_HELP} for account {stage.account}",
        )
    return Check(name, True, f"{identity['Arn']} (account {identity['Account']})")


def bootstrap_requirement(assembly: Path, stack: str) -> tuple[int, str] | None:
    """The bootstrap version the stack's templates and assets require, and the SSM parameter holding it."""
    try:
        artifacts: dict[str, Any] = json.loads((assembly / "manifest.json").read_text())["artifacts"]
    except (OSError, ValueError, KeyError):
        return None
    if stack not in artifacts:
        return None
    names = [stack, *artifacts[stack].get("dependencies", [])]
    found = [artifacts[n].get("properties", {}) for n in names if n in artifacts]
    versions = [p["requiresBootstrapStackVersion"] for p in found if "requiresBootstrapStackVersion" in p]
    parameters = [p["bootstrapStackVersionSsmParameter"] for p in found if "bootstrapStackVersionSsmParameter" in p]
    if not versions or not parameters:
        return None
    return int(max(versions)), str(parameters[0])


def check_bootstrap(aws: StageAws, assembly: Path = ASSEMBLY) -> Check:
    """The CDK bootstrap version in the stage's region against what the templates require."""
    name, stage, region = "CDK bootstrap", aws.stage, aws.stage.region
    required = bootstrap_requirement(assembly, stack_name(stage))
    if required is None:
        return Check(
            name,
            False,
            f"no synthesized {stack_name(stage)} in {assembly}: run {make_hint('synth-one', stage)} first",
        )
    version, parameter = required
    bootstrap = make_hint("bootstrap", stage)
    try:
        value = aws.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return Check(
                name, False, f"{region} is not bootstrapped (SSM parameter {parameter} not found): run {bootstrap}"
            )
        return aws_failure(name, aws, error)
    except BotoCoreError as error:
        return aws_failure(name, aws, error)
    if not str(value).isdigit() or int(value) < version:
        return Check(
            name,
            False,
            f"version {value} in {region} ({parameter}), the templates need {version} or later: run {bootstrap} "
            "(it updates the CDKToolkit stack)",
        )
    return Check(name, True, f"version {value} in {region} (the templates need {version} or later)")


def check_deployed(aws: StageAws) -> Check:
    """The stage's stack is deployed and its pipeline exists."""
    name = f"stack {stack_name(aws.stage)}"
    try:
        pipeline = aws.pipeline_name()
        aws.pipeline_definition()
    except OperatorError as error:
        return Check(name, False, str(error))
    except (BotoCoreError, ClientError) as error:
        return aws_failure(name, aws, error)
    return Check(name, True, f"deployed in {aws.stage.region}; pipeline {pipeline} exists")


def run_checks(
    aws: StageAws,
    checks: Iterable[str],
    out: TextIO,
    err: TextIO,
    *,
    assembly: Path = ASSEMBLY,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print one line per check; 0 when every check passed, else 1. Nothing runs past failed credentials."""
    runners: dict[str, Callable[[], Check]] = {
        CREDENTIALS: lambda: check_credentials(aws),
        BOOTSTRAP: lambda: check_bootstrap(aws, assembly),
        QUOTA: lambda: Check(*check_training_quota(aws, sleep)),
        DEPLOYED: lambda: check_deployed(aws),
    }
    failed = False
    for check in checks:
        result = runners[check]()
        print(result.line, file=out if result.ok else err, flush=True)
        failed = failed or not result.ok
        if check == CREDENTIALS and not result.ok:
            break
    return 1 if failed else 0
