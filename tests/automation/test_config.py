"""The automation settings: the minimal forms are valid as written; bad input is one line naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from constructs_lib.config.errors import ConfigError
from constructs_lib.config.schedule_expression import ScheduleExpressionError, check_schedule_expression
from constructs_lib.config.stage_config import parse_stage

MINIMAL = {
    "schedule": {"expression": "cron(0 3 * * ? *)"},
    "notifications": {"emails": ["ops@example.com"]},
    "deployment": {"instance_type": "ml.m5.large"},
}


def stage(**settings: Any) -> Any:
    return parse_stage("dev", {"region": "us-east-1", **settings})


def error_of(**settings: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        stage(**settings)
    message = str(raised.value)
    assert "\n" not in message, message
    return message


def test_the_minimal_forms_are_valid_as_written() -> None:
    config = stage(**MINIMAL)
    assert config.schedule is not None and config.schedule.timezone == "UTC" and config.schedule.enabled
    assert config.notifications is not None and config.notifications.topic_arn is None
    assert config.deployment is not None
    assert config.deployment.resolved_endpoint_name("dev") == "dev-endpoint"
    assert config.deployment.encrypts_volume  # ml.m5 has no local storage: the endpoint volume gets the key


def test_everything_is_off_by_default() -> None:
    config = stage()
    assert (config.schedule, config.notifications, config.deployment) == (None, None, None)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"schedule": {"expression": "cron(0 3 * * * *)"}},
         "cdk.json: context.stages.dev.schedule.expression: 'cron(0 3 * * * *)': exactly one of day-of-month (*) and "
         "day-of-week (*) must be ?"),
        ({"schedule": {"expression": "rate(1 days)"}}, "schedule.expression: 'rate(1 days)': write rate(1 day)"),
        ({"schedule": {"expression": "0 3 * * *"}}, "schedule.expression: '0 3 * * *' is not a schedule expression"),
        ({"schedule": {"expression": "cron(0 3 * * ? *)", "timezone": "Europe/Pariss"}},
         "schedule.timezone: 'Europe/Pariss' is not an IANA time zone"),
        ({"notifications": {"emails": ["ops@example"]}},
         "notifications.emails: not an e-mail address: 'ops@example'; expected name@example.com"),
        ({"notifications": {"emails": ["ops@example.com"], "topic_arn": "arn:aws:sns:us-east-1:123456789012:t"}},
         "notifications: set exactly one of emails (a new topic) and topic_arn (an existing topic)"),
        ({"notifications": {"topic_arn": "arn:aws:sns:eu-west-1:123456789012:team"}},
         "notifications.topic_arn: the topic is in eu-west-1"),
        ({**MINIMAL, "deployment": {"instance_type": "ml.m5.larg"}},
         "deployment.instance_type: not a SageMaker ProductionVariantInstanceType: 'ml.m5.larg' (did you mean "
         "ml.m5.large"),
        ({**MINIMAL, "deployment": {"instance_type": "ml.m5.xlarge"}},
         "deployment.instance_type: 'ml.m5.xlarge' is not one of registry.inference_instance_types (ml.m5.large)"),
        ({"deployment": {"instance_type": "ml.m5.large"}}, "deployment: needs notifications"),
        ({**MINIMAL, "deployment": {"instance_type": "ml.m5.large", "traffic_routing": "LINEAR", "step_percent": 5,
                                    "initial_instance_count": 2}},
         "deployment: LINEAR steps must be 10-50% of the capacity (step_percent)"),
        ({**MINIMAL, "deployment": {"instance_type": "ml.m5.large", "endpoint_name": "x" * 41}},
         "deployment.endpoint_name: String should have at most 40 characters"),
    ],
)  # fmt: skip
def test_bad_settings_are_one_line_naming_the_field(settings: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**settings)


def test_a_long_stage_name_needs_an_endpoint_name() -> None:
    name = "a" * 35
    with pytest.raises(ConfigError, match=rf"stages.{name}.deployment.endpoint_name: the default '{name}-endpoint' is"):
        parse_stage(name, {"region": "us-east-1", **MINIMAL})


def test_an_instance_family_of_unknown_storage_is_refused() -> None:
    """The endpoint's volume key depends on it (no KmsKeyId on local-storage types), so synth cannot guess."""
    message = error_of(**{**MINIMAL, "registry": {"inference_instance_types": ["ml.c7g.large"]},
                          "deployment": {"instance_type": "ml.c7g.large"}})  # fmt: skip
    assert "deployment.instance_type: the storage of instance family c7g (ml.c7g.large) is not known" in message


@pytest.mark.parametrize(
    "expression",
    ["cron(0 3 * * ? *)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(0 0 L * ? *)", "cron(0 6 ? * 2#1 2026-2030)",
     "cron(0 12 15W JAN,JUL ? *)", "cron(30 1 ? * 6L *)", "rate(1 hour)", "rate(6 hours)", "at(2027-01-31T23:59:00)"],
)  # fmt: skip
def test_expressions_scheduler_documents_are_accepted(expression: str) -> None:
    assert check_schedule_expression(expression) == expression


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("cron(0 3 ? * ? *)", "exactly one of day-of-month"),
        ("cron(60 3 * * ? *)", "minutes '60': '60' is not a value 0-59"),
        ("cron(0 3 * 13 ? *)", "month '13': '13' is not a value 1-12 or JAN-DEC"),
        ("cron(0 3 ? * MON#6 *)", "day#n needs a day of the week and n from 1 to 5"),
        ("cron(0 3 L * ? 2200)", "year '2200'"),
        ("cron(0 3 W * ? *)", "day-of-month takes L, LW or nW"),
        ("cron(0 3 * * ? * *)", "has 6 fields"),
        ("rate(0 hours)", "positive"),
        ("rate(2 weeks)", "unit minute(s), hour(s) or day(s)"),
        ("at(2027-02-30T00:00:00)", "at(yyyy-mm-ddThh:mm:ss)"),
    ],
)
def test_expressions_scheduler_would_reject_are_refused(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleExpressionError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        check_schedule_expression(expression)
