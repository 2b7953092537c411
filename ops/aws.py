"""Where the operator CLI meets AWS: clients in the stage's region, the deployed stack's outputs and
pipeline definition, and every botocore failure turned into one line that says what to do.

Operators hit the same few failures on a first deploy (no or expired credentials, the stack not
deployed, the wrong region or account, a missing permission). botocore reports each as a traceback
of about 40 lines; ``describe_error`` names the cause and the fix instead, and ``aws_errors``
applies it around a whole command so that no command can leak a traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config  # type: ignore[import-untyped]  # botocore ships no type hints
from botocore.exceptions import (  # type: ignore[import-untyped]  # botocore ships no type hints
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    SSOTokenLoadError,
    TokenRetrievalError,
)

from constructs_lib.config.stage_config import StageConfig
from ops.stages import make_hint, stack_name


class OperatorError(Exception):
    """A failure the operator can fix; the CLI prints its one-line message and exits 1."""


CREDENTIALS_HELP = (
    "supply them with AWS_PROFILE=<profile> (see `aws configure list-profiles`), `aws configure`, "
    "or `aws sso login --profile <profile>`"
)
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10, read_timeout=60)
"""Standard retries absorb throttling while ``follow`` polls; short connect timeouts fail fast offline."""

EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
INVALID_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "HeadObject": "s3:GetObject",
}
"""S3 says only "Access Denied"; these are the IAM actions its operations need ("Required permissions
for Amazon S3 API operations", https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html)."""
_DENIED_ACTION = re.compile(r"not authorized to perform:?\s+([\w-]+:[\w*-]+)")
UNFINISHED_STACK_STATES = frozenset(
    {"CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}
    | {"DELETE_IN_PROGRESS", "DELETE_FAILED"}
)


def one_line(text: str) -> str:
    """AWS messages can span lines; the CLI prints one."""
    return " ".join(str(text).split())


def error_code(error: ClientError) -> str:
    """The AWS error code of a ``ClientError``, e.g. ``ValidationError``."""
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    """The AWS error message of a ``ClientError``, on one line."""
    return one_line(error.response.get("Error", {}).get("Message", ""))


def denied_action(error: ClientError) -> str:
    """The IAM action an AccessDenied names, else the one its operation needs, else the operation."""
    match = _DENIED_ACTION.search(error_message(error))
    if match:
        return match.group(1)
    return S3_ACTIONS.get(error.operation_name, f"the {error.operation_name} call")


def describe_client_error(error: ClientError) -> str:
    """One line for an error AWS returned."""
    code, message = error_code(error), error_message(error)
    if code in EXPIRED_CODES:
        return f"the AWS credentials have expired ({code}): refresh them (`aws sso login`, or a new session token)"
    if code in INVALID_CODES:
        return (
            f"AWS rejected the credentials ({code}: {message}); check AWS_PROFILE and AWS_ACCESS_KEY_ID, "
            f"or {CREDENTIALS_HELP}"
        )
    if code in DENIED_CODES:
        return (
            f"access denied: the credentials in use may not call {denied_action(error)}; "
            "use a role that allows it or ask your AWS administrator to grant it"
        )
    return f"AWS {error.operation_name} failed: {code}: {message}"


def _profile_not_found(error: Exception, region: str) -> str:
    profile = getattr(error, "kwargs", {}).get("profile", "")
    return (
        f"the AWS profile {profile!r} (AWS_PROFILE) is not in your AWS config: pick one from "
        f"`aws configure list-profiles` or create it with `aws configure --profile {profile}`"
    )


_LOCAL_FAILURES: tuple[tuple[tuple[type[Exception], ...], Callable[[Exception, str], str]], ...] = (
    ((NoCredentialsError, PartialCredentialsError), lambda e, _: f"no AWS credentials found ({e}): {CREDENTIALS_HELP}"),
    ((ProfileNotFound,), _profile_not_found),
    (
        (SSOError, SSOTokenLoadError, TokenRetrievalError),
        lambda e, _: f"the AWS SSO session is missing or expired ({e}): run `aws sso login --profile <profile>`",
    ),
    ((CredentialRetrievalError,), lambda e, _: f"cannot get AWS credentials ({e}): {CREDENTIALS_HELP}"),
    ((NoRegionError,), lambda e, _: "no AWS region: set the stage's region in cdk.json"),
    (
        (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError),
        lambda e, region: f"cannot reach AWS in {region} ({e}): check the network, proxy settings and the region",
    ),
    ((BotoCoreError,), lambda e, _: f"AWS request failed: {one_line(str(e))}"),
)
"""Failures raised on this machine (no request reached AWS), most specific first."""


def describe_error(error: Exception, region: str) -> str | None:
    """One line for a botocore/boto3 failure, or None when ``error`` is not one."""
    if isinstance(error, S3UploadFailedError) and isinstance(error.__context__, ClientError):
        error = error.__context__
    if isinstance(error, ClientError):
        return describe_client_error(error)
    if isinstance(error, S3UploadFailedError):
        return one_line(str(error))
    for types, describe in _LOCAL_FAILURES:
        if isinstance(error, types):
            return describe(error, region)
    return None


@contextmanager
def aws_errors(region: str) -> Iterator[None]:
    """Turn any botocore/boto3 failure inside the block into an ``OperatorError``."""
    try:
        yield
    except (BotoCoreError, ClientError, S3UploadFailedError) as error:
        message = describe_error(error, region)
        if message is None:
            raise
        raise OperatorError(message) from None


class StageAws:
    """AWS clients in the stage's region, and what the commands read from the deployed stack.

    Args:
        stage: the stage; its region is used for every client.
        session: a ``boto3.Session``; default: a new one in the stage's region (credentials
            from the usual chain: environment, ``AWS_PROFILE``, config files, SSO, instance role).
        clients: clients to use instead of creating them, by service name (tests pass stubbed ones).
    """

    def __init__(self, stage: StageConfig, session: Any = None, clients: dict[str, Any] | None = None) -> None:
        self.stage = stage
        self.session = session if session is not None else boto3.Session(region_name=stage.region)
        self._clients: dict[str, Any] = dict(clients or {})
        self._outputs: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in the stage's region (created once)."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.stage.region, config=CLIENT_CONFIG)
        return self._clients[service]

    def caller_identity(self) -> dict[str, str]:
        """STS GetCallerIdentity: ``Account`` and ``Arn`` of the credentials in use."""
        response = self.client("sts").get_caller_identity()
        return {"Account": response["Account"], "Arn": response["Arn"]}

    def outputs(self) -> dict[str, str]:
        """The outputs of the stage's stack.

        Raises:
            OperatorError: when the stack is not deployed (naming the account and region searched)
                or is not in a usable state.
        """
        if self._outputs is None:
            try:
                (stack,) = self.client("cloudformation").describe_stacks(StackName=stack_name(self.stage))["Stacks"]
            except ClientError as error:
                if error_code(error) == "ValidationError" and "does not exist" in error_message(error):
                    raise self._stack_missing() from None
                raise
            status = stack.get("StackStatus", "")
            if status in UNFINISHED_STACK_STATES:
                raise OperatorError(
                    f"stack {stack_name(self.stage)} is {status} in {self.stage.region}: wait for a running deploy, or "
                    "see its events in the CloudFormation console, fix the cause and run "
                    f"{make_hint('deploy', self.stage)}"
                )
            self._outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        return self._outputs

    def output(self, key: str) -> str:
        """One stack output, e.g. ``DataBucketName``; a stack deployed before it existed is an error."""
        outputs = self.outputs()
        if key not in outputs:
            raise OperatorError(
                f"stack {stack_name(self.stage)} has no output {key}: it was deployed by an older version "
                f"of this app; run {make_hint('deploy', self.stage)}"
            )
        return outputs[key]

    def pipeline_name(self) -> str:
        """The stage's pipeline as deployed: stack output ``PipelineName``, which must be the name cdk.json
        gives the stage (``pipeline_name``, default ``<stage>-pytorch-training``).

        Raises:
            OperatorError: when they differ (cdk.json renamed the pipeline and the stack is not deployed
                since): starting or following the old name would run the old definition.
        """
        deployed, configured = self.output("PipelineName"), self.stage.resolved_pipeline_name
        if deployed != configured:
            raise OperatorError(
                f"cdk.json names this stage's pipeline {configured}, but stack {stack_name(self.stage)} deployed "
                f"{deployed}: deploy the change first with {make_hint('deploy', self.stage)}"
            )
        return deployed

    def pipeline_definition(self) -> dict[str, Any]:
        """The deployed pipeline's definition (DescribePipeline ``PipelineDefinition``), parsed."""
        name = self.pipeline_name()
        try:
            response = self.client("sagemaker").describe_pipeline(PipelineName=name)
        except ClientError as error:
            # Real AWS: ResourceNotFound; moto: ValidationException "Could not find pipeline ...".
            if error_code(error) == "ResourceNotFound" or "could not find pipeline" in error_message(error).lower():
                raise OperatorError(
                    f"pipeline {name} (stack output PipelineName) does not exist in {self.stage.region}: "
                    f"run {make_hint('deploy', self.stage)}"
                ) from None
            raise
        try:
            definition = json.loads(response["PipelineDefinition"])
        except (KeyError, TypeError, ValueError):
            raise OperatorError(f"pipeline {name}: DescribePipeline returned no JSON definition") from None
        if not isinstance(definition, dict):
            raise OperatorError(f"pipeline {name}: its definition is not a JSON object")
        return definition

    def _stack_missing(self) -> OperatorError:
        """Name where the stack was looked for, and the likely wrong account or region."""
        try:
            account: str | None = self.caller_identity()["Account"]
        except (BotoCoreError, ClientError):
            account = None
        searched = f"account {account}, region {self.stage.region}" if account else f"region {self.stage.region}"
        parts = [f"stack {stack_name(self.stage)} is not deployed in {searched} (the stage's region in cdk.json)"]
        if self.stage.account and account and account != self.stage.account:
            parts.append(
                f"cdk.json pins this stage to account {self.stage.account} but the credentials are for {account}: "
                "switch AWS_PROFILE"
            )
        default_region = _configured_region()
        if default_region and default_region != self.stage.region:
            parts.append(f"(your AWS config's region {default_region} is not used: cdk.json decides)")
        parts.append(f"deploy it with {make_hint('deploy', self.stage)}")
        return OperatorError("; ".join(parts))


def _configured_region() -> str | None:
    """The region of the operator's AWS config/environment, to point out a mismatch."""
    try:
        return boto3.Session().region_name  # type: ignore[no-any-return]  # boto3 is untyped (Any)
    except BotoCoreError:
        return None
