"""Which failures of a poll ``follow`` outlasts (throttling, a network or service blip) and which end it
(expired credentials), so a run of several days can be followed to its end.
"""

from __future__ import annotations

from botocore.exceptions import (  # type: ignore[import-untyped]  # botocore ships no type hints
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    SSOError,
    SSOTokenLoadError,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError  # botocore's own name

from ops.aws import EXPIRED_CODES, error_code, one_line

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "InternalFailure", "ServiceUnavailable"})
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
"""What botocore's standard retry mode retries (``botocore/retries/standard.py``: throttled and transient
error codes, HTTP 429 and 5xx, connection errors; "Retry behavior", AWS SDKs and Tools Reference Guide,
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html). The clients retry each call
3 times; a run lasts days, so ``follow`` waits and polls again instead of giving up."""
EXPIRED_LOCALLY = (TokenRetrievalError, SSOTokenLoadError, SSOError, CredentialRetrievalError)
"""Raised on this machine when refreshing credentials fails: an SSO session or token past its end."""


def transient_reason(error: Exception) -> str | None:
    """Why a poll failed, when it is worth polling again after a pause; None otherwise."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error_code(error)
        if code in THROTTLING_CODES or code in TRANSIENT_CODES or status in TRANSIENT_STATUS:
            return code or f"HTTP {status}"
        return None
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return one_line(str(error))
    return None


def expired_reason(error: Exception) -> str | None:
    """The name of an expired-credentials failure, or None."""
    if isinstance(error, ClientError):
        return error_code(error) if error_code(error) in EXPIRED_CODES else None
    return type(error).__name__ if isinstance(error, EXPIRED_LOCALLY) else None
