"""``make follow`` lasts a whole run: prod's ``max_run`` is 4 days, longer than most SSO sessions.

The clients already retry each call 3 times in botocore's standard mode; a run outlasts that. Throttling
(``ThrottlingException``, HTTP 400), a service fault (``InternalFailure``, HTTP 500) and a dropped
connection (``EndpointConnectionError``) are what botocore's standard retry mode treats as retryable
(``botocore/retries/standard.py``; "Retry behavior", AWS SDKs and Tools Reference Guide,
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html): ``follow`` waits and polls
again. Expired credentials come back as ``ExpiredTokenException`` from the service ("Common Errors",
SageMaker API Reference, https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html) or
as ``TokenRetrievalError`` when botocore cannot refresh an SSO token: ``follow`` stops and says how to
refresh them and resume. Responses are served by botocore's Stubber (shapes checked); a connection
error is raised where botocore raises it, inside the call.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, TokenRetrievalError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker
from botocore.stub import Stubber

from ops.aws import OperatorError, StageAws
from ops.follow import follow_execution
from ops.poll_errors import THROTTLING_CODES, TRANSIENT_CODES, TRANSIENT_STATUS
from tests.ops import shapes
from tests.ops.conftest import Deployed, Terminal, stubbed
from tests.ops.test_follow import poll

ARN = {"PipelineExecutionArn": shapes.EXECUTION_ARN}
RUNNING = ([shapes.training_step("Executing")], [shapes.training_job("Training")])
DONE = ([shapes.training_step("Succeeded")], [shapes.training_job("Completed")])


class Interrupter:
    """Raises an error from the client's next DescribePipelineExecution once armed, as botocore raises a
    connection or credential error: inside the call, before any response (``provide-client-params`` is
    the first event of a call, ahead of the Stubber's checks)."""

    def __init__(self, client: Any) -> None:
        self.error: Exception | None = None
        client.meta.events.register("provide-client-params.sagemaker.DescribePipelineExecution", self._raise)

    def _raise(self, **_: Any) -> None:
        error, self.error = self.error, None
        if error is not None:
            raise error


def run(deployed: Deployed, stubber: Stubber, sagemaker: Any, out: io.StringIO, sleep: Callable[[float], None]) -> int:
    clock = iter(range(0, 100_000, 15))
    aws = StageAws(deployed.stage, clients={"sagemaker": sagemaker})
    with stubber:
        status = follow_execution(
            aws, shapes.EXECUTION_ARN, out, interval=15, sleep=sleep, clock=lambda: next(clock), live=False
        )
        stubber.assert_no_pending_responses()
    return status


def test_throttling_service_faults_and_network_errors_do_not_end_following(deployed: Deployed) -> None:
    sagemaker, stubber = stubbed("sagemaker")
    network = Interrupter(sagemaker)
    stubber.add_client_error("describe_pipeline_execution", "ThrottlingException", "Rate exceeded", 400)
    stubber.add_client_error("describe_pipeline_execution", "InternalFailure", "internal error", 500)
    poll(stubber, "Executing", *RUNNING)  # the third call is dropped before it is sent; this answers the fourth
    stubber.add_client_error("describe_pipeline_execution", "ThrottlingException", "Rate exceeded", 400)
    poll(stubber, "Succeeded", *DONE)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            network.error = EndpointConnectionError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com/")

    out = io.StringIO()
    assert run(deployed, stubber, sagemaker, out, sleep) == 0
    # pauses double from twice the interval while polls fail, and start over after a good one
    assert sleeps == [30, 60, 120, 15, 30]
    text = out.getvalue()
    assert "poll failed (ThrottlingException); polling again in 30s" in text
    assert "poll failed (InternalFailure); polling again in 60s" in text
    assert 'poll failed (Could not connect to the endpoint URL: "https://api.sagemaker' in text
    assert text.splitlines()[-1] == f"execution {shapes.EXECUTION_ARN} succeeded"


def test_the_pause_is_capped(deployed: Deployed) -> None:
    sagemaker, stubber = stubbed("sagemaker")
    for _ in range(6):
        stubber.add_client_error("describe_pipeline_execution", "ServiceUnavailable", "try later", 503)
    poll(stubber, "Succeeded", *DONE)
    sleeps: list[float] = []
    assert run(deployed, stubber, sagemaker, io.StringIO(), sleeps.append) == 0
    assert sleeps == [30, 60, 120, 240, 300, 300]


def test_a_note_on_a_terminal_is_cleared_by_the_next_draw(deployed: Deployed) -> None:
    sagemaker, stubber = stubbed("sagemaker")
    poll(stubber, "Executing", *RUNNING)
    stubber.add_client_error("describe_pipeline_execution", "ThrottlingException", "Rate exceeded", 400)
    poll(stubber, "Succeeded", *DONE)
    out = Terminal()
    with stubber:
        aws = StageAws(deployed.stage, clients={"sagemaker": sagemaker})
        assert follow_execution(aws, shapes.EXECUTION_ARN, out, sleep=lambda _: None, clock=lambda: 0.0) == 0
    text = out.getvalue()
    assert "poll failed (ThrottlingException); polling again in 30s (0m00s)\n\x1b[3A\r\x1b[J" in text


@pytest.mark.parametrize(
    "expired",
    [
        ClientError(
            {
                "Error": {
                    "Code": "ExpiredTokenException",
                    "Message": "The security token included in the request is expired",
                }
            },
            "DescribePipelineExecution",
        ),
        TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed"),
    ],
    ids=["ExpiredTokenException", "TokenRetrievalError"],
)
def test_expired_credentials_say_how_to_refresh_and_resume(deployed: Deployed, expired: Exception) -> None:
    sagemaker, stubber = stubbed("sagemaker")
    credentials = Interrupter(sagemaker)
    poll(stubber, "Executing", *RUNNING)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        credentials.error = expired

    with pytest.raises(OperatorError) as raised:
        run(deployed, stubber, sagemaker, io.StringIO(), sleep)
    message = str(raised.value)
    name = expired.response["Error"]["Code"] if isinstance(expired, ClientError) else type(expired).__name__
    assert message.startswith(f"the AWS credentials expired while following ({name}); ")
    assert "the execution goes on" in message and "aws sso login" in message
    assert message.endswith(f"resume with `make follow STAGE=dev EXECUTION={shapes.EXECUTION_ARN}`")
    assert sleeps == [15]


def test_other_errors_still_end_following(deployed: Deployed) -> None:
    """A denied call is not transient: the CLI turns it into its one-line access-denied message."""
    sagemaker, stubber = stubbed("sagemaker")
    stubber.add_client_error("describe_pipeline_execution", "AccessDeniedException", "not authorized", 400)
    with stubber, pytest.raises(Exception, match="AccessDeniedException"):
        follow_execution(
            StageAws(deployed.stage, clients={"sagemaker": sagemaker}), shapes.EXECUTION_ARN, io.StringIO()
        )


def test_the_retried_codes_include_botocores_own() -> None:
    assert set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) <= THROTTLING_CODES
    assert set(TransientRetryableChecker._TRANSIENT_ERROR_CODES) <= THROTTLING_CODES | TRANSIENT_CODES
    assert set(TransientRetryableChecker._TRANSIENT_STATUS_CODES) <= TRANSIENT_STATUS
