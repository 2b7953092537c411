"""``make doctor``: one line per check, against responses shaped as AWS returns them (botocore's Stubber).

* Service Quotas ("ListServiceQuotas", "ListAWSDefaultServiceQuotas", Service Quotas API Reference,
  https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_ListServiceQuotas.html): applied
  values only where the account has one ("If the applied quota value is not available for a quota, the
  quota is not retrieved"), defaults from the other list; pages of at most 100 with ``NextToken``;
  ``TooManyRequestsException`` when throttled. SageMaker's quotas are named ``<type> for training job
  usage`` and ``<type> for spot training job usage``.
* SSM GetParameter of ``/cdk-bootstrap/hnb659fds/version`` ("GetParameter", Systems Manager API Reference,
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html: ``ParameterNotFound``).
* STS GetCallerIdentity ("GetCallerIdentity", STS API Reference).
A client with nothing queued fails the test on any call, so "no further call" is asserted too.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from moto import mock_aws

from constructs_lib.config.stage_config import StageConfig, parse_stage
from ops import cli, doctor
from ops.aws import StageAws
from ops.doctor import BOOTSTRAP, CHECKS, CREDENTIALS, DEPLOYED, QUOTA, run_checks
from tests.ops import shapes
from tests.ops.conftest import Deployed, stubbed

GPU = {"region": "eu-west-1", "model": {"instance_type": "ml.g5.xlarge", "instance_count": 2}}
QUOTA_NAME = "ml.g5.xlarge for training job usage"
PARAMETER = "/cdk-bootstrap/hnb659fds/version"


def quota(name: str, value: float, code: str = "L-A1B2C3D4") -> dict[str, Any]:
    """A ServiceQuota as Service Quotas returns it."""
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": "Amazon SageMaker",
        "QuotaArn": f"arn:aws:servicequotas:eu-west-1:{shapes.ACCOUNT}:sagemaker/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


OTHER_QUOTAS = [quota(f"ml.m5.{size} for training job usage", 20, f"L-0000000{i}") for i, size in enumerate("abc")]


def page(
    stubber: Stubber, operation: str, quotas: list[dict[str, Any]], token: str | None = None, after: str | None = None
) -> None:
    """Queue one page of ``operation``; ``after`` is the NextToken the request must carry."""
    response: dict[str, Any] = {"Quotas": quotas, **({"NextToken": token} if token else {})}
    request = {"ServiceCode": "sagemaker", "MaxResults": 100, **({"NextToken": after} if after else {})}
    stubber.add_response(operation, response, request)


class Stage:
    """A stage with stubbed STS, SSM and Service Quotas clients, and the doctor run on them."""

    def __init__(self, settings: dict[str, Any], name: str = "prod") -> None:
        self.stage: StageConfig = parse_stage(name, settings)
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        for service in ("sts", "ssm", "service-quotas"):
            self.clients[service], self.stubbers[service] = stubbed(service)
        self.sleeps: list[float] = []

    def identity(self, account: str = shapes.ACCOUNT) -> Stage:
        self.stubbers["sts"].add_response(
            "get_caller_identity",
            {"UserId": "AROAEXAMPLE:ops", "Account": account, "Arn": f"arn:aws:sts::{account}:assumed-role/Ops/ops"},
        )
        return self

    def run(self, checks: tuple[str, ...], assembly: Path | None = None) -> tuple[int, list[str], list[str]]:
        out, err = io.StringIO(), io.StringIO()
        aws = StageAws(self.stage, clients=self.clients)
        for stubber in self.stubbers.values():
            stubber.activate()
        status = run_checks(aws, checks, out, err, assembly=assembly or Path("/nonexistent"), sleep=self.sleeps.append)
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()
        return status, out.getvalue().splitlines(), err.getvalue().splitlines()


def test_an_applied_quota_on_the_second_page_is_found() -> None:
    stage = Stage(GPU).identity()
    quotas = stage.stubbers["service-quotas"]
    page(quotas, "list_service_quotas", OTHER_QUOTAS, token="page-2")
    page(quotas, "list_service_quotas", [quota(QUOTA_NAME, 4)], after="page-2")
    status, out, err = stage.run((CREDENTIALS, QUOTA))
    assert (status, err) == (0, [])
    assert out == [
        f"✔ AWS credentials: arn:aws:sts::{shapes.ACCOUNT}:assumed-role/Ops/ops (account {shapes.ACCOUNT})",
        f"✔ training quota: {QUOTA_NAME} = 4 in eu-west-1 (applied), model.instance_count 2",
    ]


def test_a_default_quota_of_zero_is_refused_with_the_request_to_make() -> None:
    """A new account: no applied value, the AWS default is 0 for a GPU type."""
    stage = Stage(GPU).identity()
    quotas = stage.stubbers["service-quotas"]
    page(quotas, "list_service_quotas", OTHER_QUOTAS)
    page(quotas, "list_aws_default_service_quotas", OTHER_QUOTAS, token="t")
    page(quotas, "list_aws_default_service_quotas", [quota(QUOTA_NAME, 0.0, "L-9D9D9D9D")], after="t")
    status, out, err = stage.run((CREDENTIALS, QUOTA))
    assert status == 1 and len(out) == 1
    (line,) = err
    assert line.startswith(
        f"✘ training quota: {QUOTA_NAME} = 0 in eu-west-1 (AWS default), below model.instance_count 2"
    )
    assert "every run would fail after its RESOURCE_LIMIT retries" in line
    assert (
        "`aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-9D9D9D9D "
        "--desired-value 2 --region eu-west-1`"
    ) in line


def test_a_quota_below_the_instance_count_is_refused() -> None:
    stage = Stage(GPU).identity()
    page(stage.stubbers["service-quotas"], "list_service_quotas", [quota(QUOTA_NAME, 1)])
    status, _, err = stage.run((CREDENTIALS, QUOTA))
    assert status == 1 and err[0].startswith(f"✘ training quota: {QUOTA_NAME} = 1 in eu-west-1 (applied), below")


def test_spot_training_reads_the_spot_quota() -> None:
    spot = {**GPU, "model": {**GPU["model"], "use_spot_instances": True, "max_wait": 400_000}}
    stage = Stage(spot).identity()
    quotas = stage.stubbers["service-quotas"]
    page(quotas, "list_service_quotas", [quota(QUOTA_NAME, 8), quota("ml.g5.xlarge for spot training job usage", 2)])
    status, out, _ = stage.run((CREDENTIALS, QUOTA))
    assert status == 0
    spot_quota = "ml.g5.xlarge for spot training job usage"
    assert out[1] == f"✔ training quota: {spot_quota} = 2 in eu-west-1 (applied), model.instance_count 2"


def test_a_quota_that_is_not_found_anywhere() -> None:
    stage = Stage(GPU).identity()
    quotas = stage.stubbers["service-quotas"]
    page(quotas, "list_service_quotas", OTHER_QUOTAS)
    page(quotas, "list_aws_default_service_quotas", OTHER_QUOTAS)
    status, _, err = stage.run((CREDENTIALS, QUOTA))
    assert status == 1
    assert err == [
        f"✘ training quota: Service Quotas has no quota '{QUOTA_NAME}' for SageMaker in eu-west-1: ml.g5.xlarge may "
        "not be offered for training there; pick another model.instance_type or region (see the Service Quotas "
        "console, Amazon SageMaker)"
    ]


def test_throttling_is_retried_with_a_doubling_pause() -> None:
    stage = Stage(GPU).identity()
    quotas = stage.stubbers["service-quotas"]
    for _ in range(2):
        quotas.add_client_error("list_service_quotas", "TooManyRequestsException", "Rate exceeded", 400)
    page(quotas, "list_service_quotas", [quota(QUOTA_NAME, 2)])
    status, out, _ = stage.run((CREDENTIALS, QUOTA))
    assert status == 0 and out[1].startswith("✔ training quota:")
    assert stage.sleeps == [1.0, 2.0]


def test_throttling_that_does_not_stop_is_one_line() -> None:
    stage = Stage(GPU).identity()
    for _ in range(5):
        stage.stubbers["service-quotas"].add_client_error(
            "list_service_quotas", "TooManyRequestsException", "Rate exceeded", 400
        )
    status, _, err = stage.run((CREDENTIALS, QUOTA))
    assert status == 1
    assert err == [
        "✘ training quota: Service Quotas kept throttling (TooManyRequestsException): "
        "run `make doctor` again in a minute"
    ]
    assert stage.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_a_denied_quota_lookup_names_the_action() -> None:
    stage = Stage(GPU).identity()
    denied = (
        f"User: arn:aws:sts::{shapes.ACCOUNT}:assumed-role/Ops/ops is not authorized to perform: "
        "servicequotas:ListServiceQuotas"
    )
    stage.stubbers["service-quotas"].add_client_error("list_service_quotas", "AccessDeniedException", denied, 400)
    status, _, err = stage.run((CREDENTIALS, QUOTA))
    assert status == 1 and "may not call servicequotas:ListServiceQuotas" in err[0]


def test_an_account_that_does_not_match_the_stage_stops_the_doctor() -> None:
    stage = Stage({**GPU, "account": "111111111111"}).identity(shapes.ACCOUNT)
    status, out, err = stage.run(CHECKS["all"])  # nothing else is queued: any further call would fail
    assert (status, out) == (1, [])
    (line,) = err
    assert line.startswith(
        f"✘ AWS credentials: account {shapes.ACCOUNT} (arn:aws:sts::{shapes.ACCOUNT}:assumed-role/Ops/ops), "
        "but cdk.json pins stage prod to account 111111111111: "
    )


def test_without_credentials_one_line_and_a_non_zero_exit(no_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor", "--stage", "prod"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("✘ AWS credentials: no AWS credentials found")
    assert "Traceback" not in captured.err


# --- CDK bootstrap ---------------------------------------------------------------------------------


def write_assembly(root: Path, version: int = 6, stack: str = "SageMakerTraining-prod") -> Path:
    """A cloud assembly manifest shaped as ``cdk synth`` writes it (the stack and its asset manifest)."""
    bootstrap = {"requiresBootstrapStackVersion": version, "bootstrapStackVersionSsmParameter": PARAMETER}
    artifacts = {
        f"{stack}.assets": {"type": "cdk:asset-manifest", "properties": {"file": f"{stack}.assets.json", **bootstrap}},
        stack: {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/eu-west-1",
            "properties": {"templateFile": f"{stack}.template.json", **bootstrap},
            "dependencies": [f"{stack}.assets"],
        },
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": artifacts}))
    return root


@pytest.mark.parametrize(
    ("value", "ok", "expected"),
    [
        ("30", True, "✔ CDK bootstrap: version 30 in eu-west-1 (the templates need 6 or later)"),
        ("6", True, "✔ CDK bootstrap: version 6 in eu-west-1"),
        (
            "5",
            False,
            f"✘ CDK bootstrap: version 5 in eu-west-1 ({PARAMETER}), the templates need 6 or later: "
            "run `make bootstrap STAGE=prod`",
        ),
    ],
)
def test_the_bootstrap_version_against_the_templates(tmp_path: Path, value: str, ok: bool, expected: str) -> None:
    stage = Stage(GPU).identity()
    parameter = {"Name": PARAMETER, "Type": "String", "Value": value, "Version": 1}
    stage.stubbers["ssm"].add_response("get_parameter", {"Parameter": parameter}, {"Name": PARAMETER})
    status, out, err = stage.run((CREDENTIALS, BOOTSTRAP), write_assembly(tmp_path))
    assert status == (0 if ok else 1)
    assert (out if ok else err)[-1].startswith(expected)


def test_an_account_never_bootstrapped(tmp_path: Path) -> None:
    stage = Stage(GPU).identity()
    stage.stubbers["ssm"].add_client_error("get_parameter", "ParameterNotFound", "", 400)
    status, _, err = stage.run((CREDENTIALS, BOOTSTRAP), write_assembly(tmp_path))
    assert status == 1
    assert err == [
        f"✘ CDK bootstrap: eu-west-1 is not bootstrapped (SSM parameter {PARAMETER} not found): "
        "run `make bootstrap STAGE=prod`"
    ]


def test_the_highest_version_any_manifest_requires_is_the_requirement(tmp_path: Path) -> None:
    root = write_assembly(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["artifacts"]["SageMakerTraining-prod.assets"]["properties"]["requiresBootstrapStackVersion"] = 8
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert doctor.bootstrap_requirement(root, "SageMakerTraining-prod") == (8, PARAMETER)
    assert doctor.bootstrap_requirement(root, "SageMakerTraining-dev") is None


def test_no_synthesized_stack_says_to_synth(tmp_path: Path) -> None:
    stage = Stage(GPU).identity()
    status, _, err = stage.run((CREDENTIALS, BOOTSTRAP), tmp_path)
    assert status == 1
    assert err == [
        f"✘ CDK bootstrap: no synthesized SageMakerTraining-prod in {tmp_path}: run `make synth-one STAGE=prod` first"
    ]


# --- before a run, and the CLI -------------------------------------------------------------------


def test_before_a_run_the_stack_and_its_pipeline_must_exist(deployed: Deployed) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_checks(deployed.aws, (DEPLOYED,), out, err) == 0
    assert (
        out.getvalue() == "✔ stack SageMakerTraining-dev: deployed in us-east-1; pipeline dev-pytorch-training exists\n"
    )
    deployed.sagemaker.delete_pipeline(PipelineName=shapes.PIPELINE)
    assert run_checks(StageAws(deployed.stage), (DEPLOYED,), out, err) == 1
    assert err.getvalue().startswith(
        "✘ stack SageMakerTraining-dev: pipeline dev-pytorch-training (stack output PipelineName) does not exist"
    )


def test_a_stack_not_deployed_fails_the_start_checks(fake_credentials: None, stage: StageConfig) -> None:
    with mock_aws():
        out, err = io.StringIO(), io.StringIO()
        assert run_checks(StageAws(stage), (DEPLOYED,), out, err) == 1
    assert err.getvalue().startswith("✘ stack SageMakerTraining-dev: stack SageMakerTraining-dev is not deployed in")


def test_start_runs_the_doctor_and_starts_nothing_when_a_check_fails(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "check_training_quota", lambda aws, sleep: ("training quota", False, "0 (test)"))
    assert cli.main(["start", "--stage", "dev"]) == 1
    captured = capsys.readouterr()
    assert "✔ AWS credentials: " in captured.out and "✔ stack SageMakerTraining-dev" in captured.out
    assert captured.err == "✘ training quota: 0 (test)\n"
    assert deployed.executions() == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["start", "--stage", "dev", "--params", "QualityThreshold"], "PARAMS: 'QualityThreshold' is not Name=value"),
        (["upload-data", "--stage", "dev", "--from-dir", ""], "FROM is not set: give FROM=<folder with train/, val/"),
        (["upload-data", "--stage", "dev", "--from-dir", "no/such/dir"], "FROM=no/such/dir: does not exist; give"),
        (["follow", "--stage", "dev", "--execution", "latest"], "EXECUTION='latest' is not a pipeline execution ARN"),
    ],
)
def test_local_checks_come_before_any_aws_call(
    no_aws: None, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    """Without credentials, these would otherwise report the missing credentials instead."""
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: stage dev: {expected}"), err
    assert err.count("\n") == 1
