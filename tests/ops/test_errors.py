"""Every AWS failure an operator meets first is ONE line naming the stage and the fix, never a traceback.

Error codes and messages are AWS's own: CloudFormation answers DescribeStacks for a missing stack with
ValidationError "Stack with id <name> does not exist" (boto/boto3#2807, the response body quoted by
the boto3 maintainers); STS with ExpiredToken / InvalidClientTokenId ("GetCallerIdentity",
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html, Errors and
CommonErrors); SageMaker with ResourceNotFound for DescribePipeline and AccessDeniedException
"... is not authorized to perform: sagemaker:<Action> ..." (botocore's service model lists
ResourceNotFound for DescribePipeline). moto produces the CloudFormation, STS and S3 ones itself.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws
from moto.core import enable_iam_authentication

from constructs_lib.config.stage_config import StageConfig, parse_stage
from ops import cli, models, preflight, start, upload
from ops.aws import OperatorError, StageAws, aws_errors, describe_error
from ops.stages import PROJECT_ROOT
from tests.ops import shapes
from tests.ops.conftest import Deployed, create_stack, sample_dir, stubbed


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit status and stderr of one CLI run, asserting stderr is one line without a traceback."""
    status = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return status, err


@pytest.mark.parametrize(
    "argv",
    [
        ["start", "--stage", "dev"],
        ["follow", "--stage", "dev"],
        ["models", "--stage", "dev"],
        ["approve", "--stage", "dev", "--version", "1"],
        ["upload-data", "--stage", "dev", "--from-dir", "local_data", "--sample-data"],
        ["check-credentials", "--stage", "prod"],
        ["doctor", "--stage", "prod"],
    ],
    ids=lambda argv: argv[0],
)
def test_no_credentials_is_one_line_with_how_to_supply_them(
    no_aws: None, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, err = run_cli(capsys, *argv)
    assert status == 1
    stage = argv[argv.index("--stage") + 1]
    doctor_first = argv[0] in ("start", "doctor")  # their first check is the doctor's credentials line
    assert err.startswith("✘ AWS credentials: " if doctor_first else f"error: stage {stage}: ")
    assert "no AWS credentials found" in err
    for way in ("AWS_PROFILE=", "`aws configure`", "`aws sso login"):
        assert way in err
    assert "generating" not in capsys.readouterr().out  # upload-sample-data generates nothing before failing


def test_the_cli_process_prints_one_line_without_credentials(no_aws: None) -> None:
    """The issue's case end to end: ``make start-pipeline`` ran this and printed ~40 lines."""
    result = subprocess.run(
        [sys.executable, "-m", "ops.cli", "start", "--stage", "dev"],
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "no AWS credentials found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_profile_names_it(no_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod-admin")
    status, err = run_cli(capsys, "models", "--stage", "dev")
    assert status == 1
    assert "the AWS profile 'prod-admin' (AWS_PROFILE) is not in your AWS config" in err


def test_expired_token(stage: StageConfig) -> None:
    sts, stubber = stubbed("sts")
    stubber.add_client_error(
        "get_caller_identity",
        service_error_code="ExpiredToken",
        service_message="The security token included in the request is expired",
        http_status_code=403,
    )
    expired = pytest.raises(OperatorError, match=r"credentials have expired \(ExpiredToken\)")
    with stubber, expired, aws_errors(stage.region):
        preflight.check_credentials(StageAws(stage, clients={"sts": sts}))


def test_invalid_keys_are_rejected_by_name(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    with enable_iam_authentication(), pytest.raises(OperatorError) as raised, aws_errors(deployed.stage.region):
        models.show_models(StageAws(deployed.stage), sys.stdout)
    assert "AWS rejected the credentials (InvalidClientTokenId" in str(raised.value)


def iam_user_session(actions: list[str]) -> Any:
    """Credentials of a moto IAM user allowed exactly ``actions``."""
    iam = boto3.client("iam", region_name=shapes.REGION)
    iam.create_user(UserName="operator")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    iam.put_user_policy(UserName="operator", PolicyName="ops", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def test_access_denied_names_the_s3_action(deployed: Deployed) -> None:
    """S3 says only "Access Denied"; the message names the action ListObjectsV2 needs."""
    session = iam_user_session(["cloudformation:DescribeStacks", "sagemaker:DescribePipeline"])
    with enable_iam_authentication(), pytest.raises(OperatorError) as raised, aws_errors(deployed.stage.region):
        start.start_pipeline(StageAws(deployed.stage, session), "", sys.stdout)
    assert "access denied: the credentials in use may not call s3:ListBucket" in str(raised.value)
    assert deployed.executions() == []


def test_a_denied_upload_names_the_action_and_the_file_check_came_first(deployed: Deployed, tmp_path: Path) -> None:
    """boto3's upload_file wraps the ClientError in S3UploadFailedError; the line still names the action."""
    allowed = ["cloudformation:DescribeStacks", "sagemaker:DescribePipeline", "s3:ListBucket"]
    session = iam_user_session(allowed)
    denial = pytest.raises(OperatorError, match="may not call s3:PutObject;")
    with enable_iam_authentication(), denial, aws_errors(deployed.stage.region):
        upload.upload_data(StageAws(deployed.stage, session), sample_dir(tmp_path), None, io.StringIO())
    assert deployed.object_keys() == []


def test_access_denied_names_the_action_aws_names(deployed: Deployed) -> None:
    sagemaker, stubber = stubbed("sagemaker")
    denied = (
        f"User: arn:aws:iam::{shapes.ACCOUNT}:user/operator is not authorized to perform: sagemaker:DescribePipeline "
        f"on resource: arn:aws:sagemaker:{shapes.REGION}:{shapes.ACCOUNT}:pipeline/{shapes.PIPELINE} because no "
        "identity-based policy allows the sagemaker:DescribePipeline action"
    )
    stubber.add_client_error("describe_pipeline", "AccessDeniedException", denied, 400)
    denial = pytest.raises(OperatorError, match="may not call sagemaker:DescribePipeline;")
    with stubber, denial, aws_errors(deployed.stage.region):
        StageAws(deployed.stage, clients={"sagemaker": sagemaker}).pipeline_definition()


def missing_stack_message(stage: StageConfig) -> str:
    with pytest.raises(OperatorError) as raised:
        StageAws(stage).outputs()
    return str(raised.value)


@mock_aws
def test_stack_not_deployed_names_account_region_and_the_fix(fake_credentials: None, stage: StageConfig) -> None:
    message = missing_stack_message(stage)
    assert message.startswith(
        f"stack SageMakerTraining-dev is not deployed in account {shapes.ACCOUNT}, region us-east-1"
    )
    assert message.endswith("deploy it with `make deploy STAGE=dev`")


@mock_aws
def test_wrong_region_points_at_the_config_region(
    fake_credentials: None, stage: StageConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deployed to eu-west-1 (the profile's region) while cdk.json says us-east-1 for dev."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    boto3.client("cloudformation").create_stack(
        StackName="SageMakerTraining-dev", TemplateBody=json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    )
    message = missing_stack_message(stage)
    assert "region us-east-1 (the stage's region in cdk.json)" in message
    assert "your AWS config's region eu-west-1 is not used" in message


@mock_aws
def test_credentials_of_another_account_than_the_pinned_one(fake_credentials: None) -> None:
    pinned = parse_stage("prod", {"region": "eu-west-1", "account": "111111111111"})
    assert "pins this stage to account 111111111111 but the credentials are for 123456789012" in (
        missing_stack_message(pinned)
    )
    with pytest.raises(OperatorError, match=r"cdk\.json pins stage prod to account 111111111111"):
        preflight.check_credentials(StageAws(pinned))


def test_pipeline_not_found_in_moto_and_as_aws_says_it(deployed: Deployed) -> None:
    deployed.sagemaker.delete_pipeline(PipelineName=shapes.PIPELINE)
    expected = re.escape(
        f"pipeline {shapes.PIPELINE} (stack output PipelineName) does not exist in us-east-1: run `make"
    )
    with pytest.raises(OperatorError, match=expected):
        deployed.aws.pipeline_definition()
    sagemaker, stubber = stubbed("sagemaker")
    stubber.add_client_error("describe_pipeline", "ResourceNotFound", f"Pipeline {shapes.PIPELINE} does not exist.")
    with stubber, pytest.raises(OperatorError, match=expected):
        StageAws(deployed.stage, clients={"sagemaker": sagemaker}).pipeline_definition()


def test_a_stack_that_failed_to_create(stage: StageConfig) -> None:
    cloudformation, stubber = stubbed("cloudformation")
    stack = {"StackName": "SageMakerTraining-dev", "CreationTime": shapes.T0, "StackStatus": "ROLLBACK_COMPLETE"}
    stubber.add_response("describe_stacks", {"Stacks": [stack]})
    with stubber, pytest.raises(OperatorError, match="SageMakerTraining-dev is ROLLBACK_COMPLETE in us-east-1"):
        StageAws(stage, clients={"cloudformation": cloudformation}).outputs()


@mock_aws
def test_a_stack_from_an_older_version_lacks_an_output(fake_credentials: None, stage: StageConfig) -> None:
    create_stack(stage, ModelPackageGroupName=None)
    with pytest.raises(OperatorError, match="has no output ModelPackageGroupName: it was deployed by an older"):
        models.show_models(StageAws(stage), sys.stdout)


def test_offline_and_unknown_errors() -> None:
    offline = EndpointConnectionError(endpoint_url="https://sagemaker.us-east-1.amazonaws.com/")
    assert (describe_error(offline, "us-east-1") or "").startswith("cannot reach AWS in us-east-1")
    assert describe_error(ValueError("a bug"), "us-east-1") is None
    with pytest.raises(ValueError, match="a bug"), aws_errors("us-east-1"):
        raise ValueError("a bug")  # not an AWS error: a real bug keeps its traceback
