"""The EventBridge rules against SageMaker's documented events: which events they match, and what they send.

Events are the examples of "Events that Amazon SageMaker AI sends to Amazon EventBridge"
(https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html), with only the
status fields changed. Matching is moto's implementation of EventBridge's event patterns, the one its
PutEvents routes with (content filters included: ``equals-ignore-case``). Messages are rendered as an input
transformer does ("Amazon EventBridge input transformation", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html):
each ``<name>`` of ``InputTemplate`` becomes the value at its ``InputPathsMap`` JSON path; a string template
sends its text.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from moto.events.models import EventPattern

from tests.automation.conftest import GROUP, PIPELINE, REGION, Library
from tests.security.cfn_resolver import FAKE_ACCOUNT

PIPELINE_ARN = f"arn:aws:sagemaker:{REGION}:{FAKE_ACCOUNT}:pipeline/myPipeline-123"
EXECUTION_EVENT = {
    "version": "0",
    "id": "315c1398-40ff-a850-213b-158f73kd93ir",
    "detail-type": "SageMaker Model Building Pipeline Execution Status Change",
    "source": "aws.sagemaker",
    "account": FAKE_ACCOUNT,
    "time": "2021-03-15T16:10:11Z",
    "region": REGION,
    "resources": [
        f"arn:aws:sagemaker:{REGION}:{FAKE_ACCOUNT}:pipeline/myPipeline-123",
        f"arn:aws:sagemaker:{REGION}:{FAKE_ACCOUNT}:pipeline/myPipeline-123/execution/p4jn9xou8a8s",
    ],
    "detail": {
        "pipelineExecutionDisplayName": "SomeDisplayName",
        "currentPipelineExecutionStatus": "Failed",
        "previousPipelineExecutionStatus": "Executing",
        "executionStartTime": "2021-03-15T16:03:13Z",
        "executionEndTime": "2021-03-15T16:10:10Z",
        "pipelineExecutionDescription": "SomeDescription",
        "pipelineArn": f"{PIPELINE_ARN}",
        "pipelineExecutionArn": f"{PIPELINE_ARN}/execution/p4jn9xou8a8s",
    },
}
STEP_EVENT = {
    **{key: value for key, value in EXECUTION_EVENT.items() if key != "detail"},
    "detail-type": "SageMaker Model Building Pipeline Execution Step Status Change",
    "detail": {
        "stepStartTime": "2021-03-15T16:03:14Z",
        "stepEndTime": "2021-03-15T16:10:09Z",
        "stepName": "QualityGateFailed",
        "stepType": "Fail",
        "previousStepStatus": "Executing",
        "currentStepStatus": "Failed",
        "failureReason": "Quality gate failed: Test AUC ROC = 0.61 is below QualityThreshold = 0.7; the model was "
        "not registered.",
        "pipelineArn": EXECUTION_EVENT["detail"]["pipelineArn"],
        "pipelineExecutionArn": EXECUTION_EVENT["detail"]["pipelineExecutionArn"],
    },
}
PACKAGE_EVENT = {
    "version": "0",
    "id": "844e2571-85d4-695f-b930-0153b71dcb42",
    "detail-type": "SageMaker Model Package State Change",
    "source": "aws.sagemaker",
    "account": FAKE_ACCOUNT,
    "time": "2021-02-24T17:00:14Z",
    "region": REGION,
    "resources": [f"arn:aws:sagemaker:{REGION}:{FAKE_ACCOUNT}:model-package/{GROUP}/2"],
    "detail": {
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": 2,
        "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:{FAKE_ACCOUNT}:model-package/{GROUP}/2",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "Approved",
    },
}
ENDPOINT_EVENT = {
    "version": "0",
    "id": "d2921b5a-b0ad-cace-a8e3-0f159d018e06",
    "detail-type": "SageMaker Endpoint State Change",
    "source": "aws.sagemaker",
    "account": FAKE_ACCOUNT,
    "time": "2020-06-17T16:39:52Z",
    "region": REGION,
    "resources": [f"arn:aws:sagemaker:{REGION}:{FAKE_ACCOUNT}:endpoint/dev-endpoint"],
    "detail": {"EndpointName": "dev-endpoint", "EndpointConfigName": "c", "EndpointStatus": "IN_SERVICE"},
}


def changed(event: dict[str, Any], **detail: Any) -> dict[str, Any]:
    """``event`` with some detail fields replaced."""
    copied = copy.deepcopy(event)
    copied["detail"].update(detail)
    return copied


def rule(library: Library, logical_prefix: str) -> dict[str, Any]:
    properties: dict[str, Any] = library.resolved(library.one("AWS::Events::Rule", logical_prefix)["Properties"])
    return properties


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """moto's EventBridge pattern matcher (what its PutEvents routes with), after moto validates the pattern."""
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


CASES = [
    ("AlertsExecutionFailed", EXECUTION_EVENT, True, "a failed execution"),
    ("AlertsExecutionFailed", changed(EXECUTION_EVENT, currentPipelineExecutionStatus="Stopped"), True, "stopped"),
    ("AlertsExecutionFailed", changed(EXECUTION_EVENT, currentPipelineExecutionStatus="Succeeded"), False, "success"),
    ("AlertsExecutionFailed",
     changed(EXECUTION_EVENT, pipelineArn=EXECUTION_EVENT["detail"]["pipelineArn"].lower()), True, "lowercased ARN"),
    ("AlertsExecutionFailed", changed(EXECUTION_EVENT, pipelineArn=PIPELINE_ARN.replace("myPipeline-123", "other")),
     False, "another pipeline"),
    ("AlertsStepFailed", STEP_EVENT, True, "a failed step"),
    ("AlertsStepFailed", changed(STEP_EVENT, currentStepStatus="Succeeded"), False, "a step that succeeded"),
    ("DeploymentOnApproval", PACKAGE_EVENT, True, "an approved version"),
    ("DeploymentOnApproval", changed(PACKAGE_EVENT, ModelApprovalStatus="Rejected"), False, "a rejected version"),
    ("DeploymentOnApproval", changed(PACKAGE_EVENT, ModelApprovalStatus="PendingManualApproval"), False, "pending"),
    ("DeploymentOnApproval", changed(PACKAGE_EVENT, ModelPackageGroupName="prod-models"), False, "another group"),
    ("DeploymentOnEndpointState", ENDPOINT_EVENT, True, "the endpoint's state change"),
    ("DeploymentOnEndpointState", changed(ENDPOINT_EVENT, EndpointName="other"), False, "another endpoint"),
]  # fmt: skip


@pytest.mark.parametrize(("rule_prefix", "event", "expected", "case"), CASES, ids=[c[3] for c in CASES])
def test_each_rule_matches_its_documented_events_only(
    library: Library, rule_prefix: str, event: dict[str, Any], expected: bool, case: str
) -> None:
    assert matches(rule(library, rule_prefix)["EventPattern"], event) is expected, case


def render(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge sends the target for ``event``: each ``<name>`` replaced by its path's value."""
    transformer = target["InputTransformer"]
    template = str(transformer["InputTemplate"])
    for name, path in transformer["InputPathsMap"].items():
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            assert isinstance(value, dict) and part in value, f"{path} is not in the documented event"
            value = value[part]
        text = value if isinstance(value, str) else json.dumps(value)
        template = template.replace(f"<{name}>", json.dumps(text)[1:-1])
    assert not re.search(r"<[a-zA-Z][\w-]*>", template), f"placeholder without a path: {template}"
    return json.loads(template)


def test_a_failed_run_is_a_readable_message_with_a_console_link(library: Library) -> None:
    (target,) = rule(library, "AlertsExecutionFailed")["Targets"]
    execution = EXECUTION_EVENT["detail"]["pipelineExecutionArn"]
    assert render(target, EXECUTION_EVENT) == (
        f"SageMaker pipeline {PIPELINE}: execution {execution} is Failed (started 2021-03-15T16:03:13Z, ended "
        "2021-03-15T16:10:10Z). The failed step and its reason come in a separate message. Follow it: make follow "
        f"STAGE=dev EXECUTION={execution}. Console: https://{REGION}.console.aws.amazon.com/sagemaker/home?region="
        f"{REGION} (Pipelines, {PIPELINE}, Executions)."
    )
    assert "RoleArn" not in target  # "do not specify a RoleArn" for SNS targets (EventBridge guide)


def test_a_failed_step_names_the_step_and_its_reason(library: Library) -> None:
    (target,) = rule(library, "AlertsStepFailed")["Targets"]
    message = render(target, STEP_EVENT)
    assert message.startswith(
        f"SageMaker pipeline {PIPELINE}: step QualityGateFailed (Fail) of execution "
        f"{STEP_EVENT['detail']['pipelineExecutionArn']} failed: Quality gate failed: Test AUC ROC = 0.61 is below"
    )


def test_a_message_field_missing_from_the_event_fails_the_rendering(library: Library) -> None:
    """The rendering check is not vacuous: a path the documented event lacks is caught."""
    (target,) = copy.deepcopy(rule(library, "AlertsExecutionFailed")["Targets"])
    target["InputTransformer"]["InputPathsMap"]["detail-executionEndTime"] = "$.detail.failureReason"
    with pytest.raises(AssertionError, match=r"\$.detail.failureReason is not in the documented event"):
        render(target, EXECUTION_EVENT)
