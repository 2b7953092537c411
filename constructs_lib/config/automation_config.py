"""Typed settings of a stage's automation: scheduled runs, failure alerts, deployment on approval.

Each is optional and off by default (``None`` on ``StageConfig``); the minimal forms are

    "schedule": {"expression": "cron(0 3 * * ? *)"}
    "notifications": {"emails": ["ops@example.com"]}
    "deployment": {"instance_type": "ml.m5.large"}

Everything that can be checked without AWS is checked here, with AWS's own rules: the schedule
expression as EventBridge Scheduler parses it (``schedule_expression.py``), the time zone against the
IANA database Scheduler uses, e-mail addresses, the SNS topic ARN, and the endpoint instance type against
the SageMaker API's ``ProductionVariantInstanceType`` enum (botocore's copy) and the local-storage
family list. Checks that need the rendered pipeline (parameter names and types) run in the construct.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator, model_validator

from constructs_lib.config.api_shapes import REAL_TIME_INSTANCE_TYPES, unknown_values
from constructs_lib.config.errors import FieldError
from constructs_lib.config.instance_storage import UnknownInstanceFamilyError, has_local_instance_storage
from constructs_lib.config.schedule_expression import check_schedule_expression
from constructs_lib.config.strict_model import StrictModel

EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
"""An address SNS can send to: ``local@domain.tld`` (the HTML living standard's "valid e-mail address",
with at least one dot in the domain, since a bare host name is not deliverable from SNS)."""
SNS_TOPIC_ARN = r"^arn:aws[a-z\-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_\-]{1,256}$"
ENDPOINT_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}$"
"""CreateEndpoint's ``EndpointName`` pattern, at most 40 characters so that the models and endpoint
configurations named ``<endpoint>-v<version>-<yyyymmddHHMMSS>`` stay within SageMaker's 63."""
MAX_ENDPOINT_NAME = 40
ParameterValue = str | int | float


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class ScheduleSettings(StrictModel):
    """Scheduled pipeline runs: an EventBridge Scheduler schedule that starts the stage's pipeline."""

    expression: str = Field(
        ...,
        description="When to start a run: cron(minutes hours day-of-month month day-of-week year), e.g. "
        "`cron(0 3 * * ? *)` (03:00 daily), rate(<n> minute[s]|hour[s]|day[s]) or at(yyyy-mm-ddThh:mm:ss), "
        "as EventBridge Scheduler parses them.",
    )
    timezone: str = Field(
        "UTC", description="IANA time zone the expression is evaluated in, e.g. Europe/Paris; default UTC."
    )
    parameters: dict[str, ParameterValue] = Field(
        default_factory=dict,
        description='Pipeline parameters of each scheduled run by name, e.g. {"QualityThreshold": 0.8}; '
        "checked at synth against the pipeline's declared parameters, their types and allowed values. "
        "InputDataUri is not settable (the data bucket's name is chosen at deploy): runs read the input root.",
    )
    enabled: bool = Field(True, strict=True, description="false keeps the schedule but pauses it (state DISABLED).")

    @field_validator("expression")
    @classmethod
    def _valid_expression(cls, expression: str) -> str:
        return check_schedule_expression(expression)

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, timezone: str) -> str:
        zones = _time_zones()
        if not zones:
            raise ValueError(
                "cannot check the time zone: this machine has no IANA time zone database; "
                "install the tzdata package (pip install tzdata) or the system's tzdata"
            )
        if timezone not in zones:
            raise ValueError(f"{timezone!r} is not an IANA time zone; e.g. UTC, Europe/Paris, America/New_York")
        return timezone


class NotificationSettings(StrictModel):
    """Failure alerts and deployment outcomes, sent to e-mail addresses or to an existing SNS topic."""

    emails: list[str] = Field(
        default_factory=list,
        description="Addresses subscribed to a new SNS topic encrypted with the stage key; each must confirm "
        "the subscription e-mail SNS sends.",
    )
    topic_arn: str | None = Field(
        None,
        pattern=SNS_TOPIC_ARN,
        description="An existing SNS topic in the stage's region instead of a new one; its policy must let "
        "events.amazonaws.com publish, and an encrypted topic's key must let EventBridge use it.",
    )

    @field_validator("emails")
    @classmethod
    def _valid_emails(cls, emails: list[str]) -> list[str]:
        bad = [email for email in emails if not EMAIL.match(email)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(map(repr, bad))}; expected name@example.com")
        if len(set(emails)) != len(emails):
            raise ValueError("lists an address twice")
        return emails

    @model_validator(mode="after")
    def _one_destination(self) -> NotificationSettings:
        if bool(self.emails) == bool(self.topic_arn):
            raise ValueError("set exactly one of emails (a new topic) and topic_arn (an existing topic)")
        return self


class DeploymentSettings(StrictModel):
    """Deployment on approval: a real-time endpoint that serves each newly approved version."""

    instance_type: str = Field(
        ...,
        pattern=r"^ml\.[a-z0-9\-]+\.[a-z0-9]+$",
        description="Endpoint instance type, one of registry.inference_instance_types (what registered "
        "versions declare they support), e.g. ml.m5.large.",
    )
    initial_instance_count: int = Field(1, ge=1, le=100, strict=True, description="Instances behind the endpoint.")
    endpoint_name: str | None = Field(
        None,
        max_length=MAX_ENDPOINT_NAME,
        pattern=ENDPOINT_NAME_PATTERN,
        description="Endpoint name (at most 40 characters: models and configurations are named "
        "<endpoint>-v<version>-<time>); defaults to <stage>-endpoint.",
    )
    traffic_routing: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"] = Field(
        "ALL_AT_ONCE",
        description="How an update shifts traffic to the new (green) fleet: all at once, a canary then the rest, "
        "or linear steps; CANARY and LINEAR need initial_instance_count >= 2.",
    )
    step_percent: int | None = Field(
        None,
        ge=1,
        le=50,
        strict=True,
        description="CANARY: the canary's share of capacity (at most 50); LINEAR: each step's (10-50). "
        "Not used with ALL_AT_ONCE.",
    )
    wait_interval_seconds: int = Field(
        600,
        ge=0,
        le=3600,
        strict=True,
        description="Baking time after each traffic shift, while the rollback alarms are watched.",
    )
    termination_wait_seconds: int = Field(
        0, ge=0, le=3600, strict=True, description="Extra wait before the old (blue) fleet is terminated."
    )
    max_5xx_error_rate: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="Rollback alarm: share of invocations answered with a 5xx (Invocation5XXErrors, Average "
        "over 1 minute) that, two minutes running, rolls an update back.",
    )
    max_model_latency_ms: int = Field(
        1000,
        ge=1,
        le=600000,
        strict=True,
        description="Rollback alarm: average ModelLatency in milliseconds that, two minutes running, rolls an "
        "update back.",
    )
    data_capture_percent: int | None = Field(
        None,
        ge=1,
        le=100,
        strict=True,
        description="Capture this share of requests and responses to the artifacts bucket under data-capture/ "
        "(stage key); unset: off.",
    )

    @field_validator("instance_type")
    @classmethod
    def _known_instance_type(cls, instance_type: str) -> str:
        problems = unknown_values([instance_type], REAL_TIME_INSTANCE_TYPES)
        if problems:
            raise ValueError(f"not a SageMaker {REAL_TIME_INSTANCE_TYPES}: {'; '.join(problems)}")
        try:
            has_local_instance_storage(instance_type)
        except UnknownInstanceFamilyError as error:
            raise ValueError(f"{error}; the endpoint's volume key depends on it") from None
        return instance_type

    @model_validator(mode="after")
    def _check_rollout(self) -> DeploymentSettings:
        if self.traffic_routing == "ALL_AT_ONCE":
            if self.step_percent is not None:
                raise ValueError("step_percent applies only with traffic_routing CANARY or LINEAR")
            return self
        if self.step_percent is None:
            raise ValueError(f"traffic_routing {self.traffic_routing} needs step_percent")
        if self.initial_instance_count < 2:
            raise ValueError(
                f"traffic_routing {self.traffic_routing} shifts part of the capacity, so it needs "
                "initial_instance_count >= 2; use ALL_AT_ONCE with one instance"
            )
        if self.traffic_routing == "LINEAR" and self.step_percent < 10:
            raise ValueError("LINEAR steps must be 10-50% of the capacity (step_percent)")
        return self

    @property
    def encrypts_volume(self) -> bool:
        """Whether the endpoint config may carry ``KmsKeyId`` (instance types without local storage)."""
        return not has_local_instance_storage(self.instance_type)

    def resolved_endpoint_name(self, stage_name: str) -> str:
        """The endpoint name, defaulted from the stage name."""
        return self.endpoint_name or f"{stage_name}-endpoint"


def automation_problem(
    stage_name: str,
    region: str,
    inference_instance_types: list[str],
    notifications: NotificationSettings | None,
    deployment: DeploymentSettings | None,
) -> FieldError | None:
    """What the stage's other settings make invalid in its automation settings, as a field finding."""
    if notifications is not None and notifications.topic_arn is not None:
        topic_region = notifications.topic_arn.split(":")[3]
        if topic_region != region:
            return FieldError(
                "notifications.topic_arn",
                f"the topic is in {topic_region}; EventBridge rules deliver to a topic in their own region, {region}",
            )
    if deployment is None:
        return None
    if notifications is None:
        return FieldError(
            "deployment",
            'needs notifications (e.g. "notifications": {"emails": ["ops@example.com"]}): deployment outcomes '
            "and rollbacks are reported to the alerts topic",
        )
    if deployment.instance_type not in inference_instance_types:
        return FieldError(
            "deployment.instance_type",
            f"{deployment.instance_type!r} is not one of registry.inference_instance_types "
            f"({', '.join(inference_instance_types)}), the types registered versions declare they support; "
            "add it there or pick one of them",
        )
    name = deployment.resolved_endpoint_name(stage_name)
    if len(name) > MAX_ENDPOINT_NAME:
        return FieldError(
            "deployment.endpoint_name",
            f"the default {name!r} is longer than {MAX_ENDPOINT_NAME} characters; set endpoint_name",
        )
    return None
