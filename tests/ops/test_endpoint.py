"""``make deploy-model``, ``make endpoint`` and ``make invoke``: moto for the stack, registry, endpoint and
metrics; botocore's Stubber (shape-checked) for Lambda's Invoke and SageMaker Runtime's InvokeEndpoint, which
moto cannot run here (Lambda needs Docker, and moto's runtime answers canned bodies).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from constructs_lib.config.stage_config import StageConfig
from ops.aws import OperatorError, StageAws
from ops.endpoint import deploy_model, show_endpoint
from ops.invoke import invoke
from tests.ops import shapes
from tests.ops.conftest import create_stack, stubbed
from tests.ops.test_make_targets import dry_run

ENDPOINT = "dev-endpoint"
FUNCTION = "dev-endpoint-deployer"


@dataclass
class Live:
    """The dev stage with deployment on, in moto, plus stubbed Lambda and SageMaker Runtime clients."""

    aws: StageAws
    sagemaker: Any
    lambda_stub: Stubber
    runtime_stub: Stubber

    def register(self, status: str) -> str:
        arn = self.sagemaker.create_model_package(ModelPackageGroupName=shapes.GROUP, ModelApprovalStatus=status)
        return str(arn["ModelPackageArn"])


def body(payload: Any) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def live(fake_credentials: None, stage: StageConfig) -> Iterator[Live]:
    with mock_aws():
        create_stack(stage, EndpointName=ENDPOINT, DeployerFunctionName=FUNCTION)
        sagemaker = boto3.client("sagemaker", region_name=stage.region)
        sagemaker.create_model_package_group(ModelPackageGroupName=shapes.GROUP)
        lambda_client, lambda_stub = stubbed("lambda")
        runtime, runtime_stub = stubbed("sagemaker-runtime")
        aws = StageAws(stage, clients={"lambda": lambda_client, "sagemaker-runtime": runtime})
        with lambda_stub, runtime_stub:
            yield Live(aws, sagemaker, lambda_stub, runtime_stub)
            lambda_stub.assert_no_pending_responses()
            runtime_stub.assert_no_pending_responses()


def expect_invoke(live: Live, version_arn: str, outcome: dict[str, Any], error: bool = False) -> None:
    response: dict[str, Any] = {"StatusCode": 200, "Payload": body(outcome)}
    if error:
        response["FunctionError"] = "Unhandled"
    live.lambda_stub.add_response(
        "invoke",
        response,
        {
            "FunctionName": FUNCTION,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(
                {
                    "action": "deploy",
                    "model_package_arn": version_arn,
                    "requested_by": f"arn:aws:sts::{shapes.ACCOUNT}:user/moto",
                }
            ).encode(),
        },
    )


def test_deploy_model_invokes_the_deployer_with_the_version(live: Live) -> None:
    live.register("Approved")
    second = live.register("Approved")
    message = "endpoint dev-endpoint: updating from version 2 to version 1 (blue/green ALL_AT_ONCE, baking 600 s)"
    first = second.replace("/2", "/1")
    expect_invoke(live, first, {"status": "updating", "message": message, "version": 1})
    out = io.StringIO()
    assert deploy_model(live.aws, 1, out) == 0
    assert out.getvalue().splitlines() == [
        message,
        "follow it with `make endpoint STAGE=dev`; the outcome also goes to the alerts topic",
    ]


def test_deploy_model_refuses_an_unapproved_version_before_invoking(live: Live) -> None:
    live.register("Rejected")
    with pytest.raises(
        OperatorError,
        match=r"version 1 is Rejected; only approved versions are deployed: `make approve STAGE=dev VERSION=1` first",
    ):
        deploy_model(live.aws, 1, io.StringIO())


def test_a_refusal_by_the_deployer_exits_1_and_a_crash_is_one_line(live: Live) -> None:
    arn = live.register("Approved")
    expect_invoke(
        live, arn, {"status": "refused", "message": "endpoint dev-endpoint is Updating: version 1 was not deployed."}
    )
    out = io.StringIO()
    assert deploy_model(live.aws, 1, out) == 1
    assert out.getvalue() == "endpoint dev-endpoint is Updating: version 1 was not deployed.\n"
    expect_invoke(
        live, arn, {"errorMessage": "KeyError: 'DEPLOYER_CONFIG'\nTraceback ...", "errorType": "KeyError"}, error=True
    )
    with pytest.raises(
        OperatorError,
        match=r"^the deployer function dev-endpoint-deployer failed: KeyError: 'DEPLOYER_CONFIG' Traceback",
    ):
        deploy_model(live.aws, 1, io.StringIO())


def test_a_stage_without_deployment_says_how_to_turn_it_on(fake_credentials: None, stage: StageConfig) -> None:
    with mock_aws():
        create_stack(stage)
        with pytest.raises(
            OperatorError, match=r'has no endpoint deployment: add "deployment" \(and "notifications"\)'
        ):
            show_endpoint(StageAws(stage), io.StringIO())


def test_endpoint_shows_status_version_and_recent_errors(live: Live) -> None:
    version = live.register("Approved")
    role = f"arn:aws:iam::{shapes.ACCOUNT}:role/Inference"
    name = f"{ENDPOINT}-v1-20261120030000"
    live.sagemaker.create_model(ModelName=name, PrimaryContainer={"ModelPackageName": version}, ExecutionRoleArn=role)
    live.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    live.sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    now = datetime.now(UTC)
    cloudwatch = boto3.client("cloudwatch", region_name=shapes.REGION)
    dimensions = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "AllTraffic"}]
    for metric, value in (("Invocations", 40.0), ("Invocation5XXErrors", 3.0), ("Invocation4XXErrors", 1.0)):
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": dimensions,
                    "Value": value,
                    "Timestamp": now - timedelta(minutes=10),
                }
            ],
        )
    out = io.StringIO()
    assert show_endpoint(live.aws, out, now=now) == 0
    status, variant = out.getvalue().splitlines()
    assert status == f"endpoint {ENDPOINT}: InService  (configuration {name})"
    assert variant.startswith("  variant AllTraffic: version 1, ")
    assert variant.endswith("last hour: 40 invocations, 1 4xx, 3 5xx errors")


def test_endpoint_before_the_first_deployment(live: Live) -> None:
    out = io.StringIO()
    assert show_endpoint(live.aws, out) == 0
    assert out.getvalue().startswith(
        "endpoint dev-endpoint does not exist yet: it is created when a version is approved"
    )


def test_invoke_sends_the_rows_and_prints_a_probability_per_row(live: Live, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("0.5,1.2,-0.3\n1.5,0.2,0.3\n")
    live.runtime_stub.add_response(
        "invoke_endpoint",
        {"Body": body([0.2173, 0.8041]), "ContentType": "application/json"},
        {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Accept": "application/json", "Body": rows.read_bytes()},
    )
    out = io.StringIO()
    assert invoke(live.aws, rows, out) == 0
    assert out.getvalue().splitlines() == [
        f"endpoint {ENDPOINT}: P(label = 1) for 2 row(s) of {rows}",
        "     1  0.2173",
        "     2  0.8041",
    ]


def test_a_request_the_model_refuses_is_its_one_line_reason(live: Live, tmp_path: Path) -> None:
    """The serving code puts a one-line reason first in the body; InvokeEndpoint returns it as OriginalMessage."""
    rows = tmp_path / "rows.csv"
    rows.write_text("f0,f1\n1,2\n")
    live.runtime_stub.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="Received client error (400) from primary with message ...",
        http_status_code=424,
        modeled_fields={
            "OriginalStatusCode": 400,
            "OriginalMessage": "the CSV body starts with a header row; send values only, in the order f0,f1\nTraceback",
        },
    )
    with pytest.raises(
        OperatorError,
        match=r"^the model refused the request \(400\): the CSV body starts with a header row; send values only, "
        r"in the order f0,f1$",
    ):
        invoke(live.aws, rows, io.StringIO())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("rows.txt", "1,2", "use a .csv file"),
        ("rows.csv", "  \n", "the file is empty"),
        ("missing.csv", None, "no such file"),
    ],
)
def test_a_bad_file_is_refused_before_any_request(tmp_path: Path, name: str, content: str | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(OperatorError, match=message):
        invoke(StageAws.__new__(StageAws), path, io.StringIO())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["deploy-model", "STAGE=prod", "VERSION=3"], '-m ops.cli deploy-model --stage prod --version "$VERSION"'),
        (["endpoint"], "-m ops.cli endpoint --stage dev"),
        (["invoke", "FILE=rows.csv"], '-m ops.cli invoke --stage dev --file "$FILE"'),
    ],
)
def test_make_targets_pass_stage_version_and_file(args: list[str], expected: str) -> None:
    (line,) = dry_run(*args)
    assert line.endswith(expected)
