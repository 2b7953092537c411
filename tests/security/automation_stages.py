"""Stages with the optional automation turned on, added to the security tests' ``EXTRA_STAGES``.

* ``auto``: every feature in its minimal form plus a time zone, a scheduled parameter and data capture, on
  an EBS-backed endpoint type (the endpoint configuration carries the stage key);
* ``AutoNvme``: a mixed-case pipeline, group and endpoint name (IAM matches ARNs case-sensitively), an
  existing SNS topic instead of a new one, a paused schedule, and a two-instance LINEAR rollout on ``ml.g5``,
  which has local NVMe storage (no volume key), in another region.
"""

from __future__ import annotations

from typing import Any

from tests.security.cfn_resolver import FAKE_ACCOUNT

EXISTING_TOPIC = f"arn:aws:sns:eu-west-1:{FAKE_ACCOUNT}:team-alerts"
AUTOMATION_STAGES: dict[str, dict[str, Any]] = {
    "auto": {
        "region": "us-east-1",
        "schedule": {
            "expression": "cron(0 3 ? * MON-FRI *)",
            "timezone": "Europe/Paris",
            "parameters": {"QualityThreshold": 0.8},
        },
        "notifications": {"emails": ["ops@example.com", "ml-team@example.com"]},
        "deployment": {"instance_type": "ml.m5.large", "data_capture_percent": 20},
    },
    "AutoNvme": {
        "region": "eu-west-1",
        "pipeline_name": "AutoNvme-Training",
        "registry": {
            "model_package_group_name": "AutoNvme-Models",
            "inference_instance_types": ["ml.g5.xlarge"],
            "transform_instance_types": ["ml.g5.xlarge"],
        },
        "schedule": {"expression": "rate(1 day)", "enabled": False},
        "notifications": {"topic_arn": EXISTING_TOPIC},
        "deployment": {
            "instance_type": "ml.g5.xlarge",
            "initial_instance_count": 2,
            "traffic_routing": "LINEAR",
            "step_percent": 50,
            "endpoint_name": "AutoNvme-Endpoint",
        },
    },
}
AUTOMATION_STAGE_NAMES = tuple(AUTOMATION_STAGES)
