"""The stage's training instance quota, from Service Quotas (service code ``sagemaker``).

SageMaker names one quota per instance type and kind of job, ``<type> for training job usage`` and
``<type> for spot training job usage``; a job needs ``instance_count`` of them. They are found by name:
ListServiceQuotas "Lists the applied quota values [...] If the applied quota value is not available for a
quota, the quota is not retrieved", and ListAWSDefaultServiceQuotas "Lists the default values for the
quotas" (Service Quotas API Reference, https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_ListServiceQuotas.html,
.../API_ListAWSDefaultServiceQuotas.html); GetAWSDefaultServiceQuota needs the quota code, which is what
is unknown. Both list calls page with ``NextToken`` (at most 100 quotas a page) and throttle with
``TooManyRequestsException``: each page is retried with a doubling pause.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from ops.aws import StageAws, describe_error
from ops.poll_errors import transient_reason

SERVICE_CODE = "sagemaker"
PAGE_SIZE = 100
PAGE_ATTEMPTS = 5
FIRST_PAUSE_SECONDS = 1.0
CHECK_NAME = "training quota"


class ThrottledError(Exception):
    """Service Quotas kept throttling one page through every attempt."""


def training_quota_name(instance_type: str, spot: bool) -> str:
    """``ml.g5.xlarge for training job usage`` / ``ml.g5.xlarge for spot training job usage``."""
    return f"{instance_type} for {'spot ' if spot else ''}training job usage"


def _page(call: Callable[..., Any], request: dict[str, Any], sleep: Callable[[float], None]) -> Any:
    pause = FIRST_PAUSE_SECONDS
    for attempt in range(1, PAGE_ATTEMPTS + 1):
        try:
            return call(**request)
        except (BotoCoreError, ClientError) as error:
            reason = transient_reason(error)
            if reason is None:
                raise
            if attempt == PAGE_ATTEMPTS:
                raise ThrottledError(reason) from None
            sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def find_quota(call: Callable[..., Any], name: str, sleep: Callable[[float], None]) -> dict[str, Any] | None:
    """The quota named ``name`` in every page of ``call`` (a Service Quotas list operation), or None."""
    request: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "MaxResults": PAGE_SIZE}
    while True:
        page = _page(call, request, sleep)
        for quota in page.get("Quotas", []):
            if quota.get("QuotaName") == name:
                return dict(quota)
        if not page.get("NextToken"):
            return None
        request["NextToken"] = page["NextToken"]


def check_training_quota(aws: StageAws, sleep: Callable[[float], None]) -> tuple[str, bool, str]:
    """``(check name, ok, line text)`` for the stage's training instance quota in its region."""
    model, region = aws.stage.model, aws.stage.region
    name = training_quota_name(model.instance_type, model.use_spot_instances)
    client = aws.client("service-quotas")
    try:
        quota, source = find_quota(client.list_service_quotas, name, sleep), "applied"
        if quota is None:
            quota, source = find_quota(client.list_aws_default_service_quotas, name, sleep), "AWS default"
    except ThrottledError as throttled:
        return CHECK_NAME, False, f"Service Quotas kept throttling ({throttled}): run `make doctor` again in a minute"
    except (BotoCoreError, ClientError) as error:
        message = describe_error(error, region)
        if message is None:
            raise
        return CHECK_NAME, False, f"cannot read {name!r}: {message}"
    if quota is None:
        return (
            CHECK_NAME,
            False,
            f"Service Quotas has no quota {name!r} for SageMaker in {region}: {model.instance_type} may not be "
            "offered for training there; pick another model.instance_type or region (see the Service Quotas "
            "console, Amazon SageMaker)",
        )
    value, needed = float(quota.get("Value", 0)), model.instance_count
    shown = f"{name} = {value:g} in {region} ({source})"
    if value < needed:
        request = (
            f"aws service-quotas request-service-quota-increase --service-code {SERVICE_CODE} --quota-code "
            f"{quota.get('QuotaCode', '<code>')} --desired-value {needed} --region {region}"
        )
        return (
            CHECK_NAME,
            False,
            f"{shown}, below model.instance_count {needed}: every run would fail after its RESOURCE_LIMIT retries; "
            f"request an increase: `{request}`",
        )
    return CHECK_NAME, True, f"{shown}, model.instance_count {needed}"
