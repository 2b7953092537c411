"""``PipelineSchedule``: an EventBridge Scheduler schedule that starts one SageMaker pipeline.

aws-cdk-lib ships ``aws_scheduler_targets.SageMakerStartPipelineExecution`` but no ``IPipeline``
implementation, so the schedule is an ``AWS::Scheduler::Schedule`` with SageMaker's templated target:
the pipeline ARN as ``Target.Arn`` and its parameters as ``SageMakerPipelineParameters``, which makes
Scheduler call StartPipelineExecution ("Using templated targets in EventBridge Scheduler",
https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-templated.html).

Defaults:
    * its own schedule group, named like the pipeline (at most 64 characters), so that the execution
      role's trust can name the group, as Scheduler's confused-deputy guide requires;
    * no flexible time window; state ENABLED unless ``settings.enabled`` is false;
    * retries: at most ``MAX_RETRY_ATTEMPTS`` within ``MAX_EVENT_AGE_SECONDS``, so a throttled start
      never begins a training run hours late;
    * an execution role that may call ``sagemaker:StartPipelineExecution`` on this one pipeline only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from constructs_lib.automation.naming import arn, both_spellings, bounded_name
from constructs_lib.config.automation_config import ParameterValue, ScheduleSettings
from constructs_lib.feature_flags import pin_feature_flags

SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
MAX_SCHEDULER_NAME = 64
"""CreateScheduleGroup and CreateSchedule names: 1-64 of ``[0-9a-zA-Z-_.]``."""
MAX_RETRY_ATTEMPTS = 3
MAX_EVENT_AGE_SECONDS = 3600
NOT_SCHEDULABLE = {
    "InputDataUri": "the data bucket's name is chosen by CloudFormation at deploy, so a scheduled run reads the "
    "parameter's default, s3://<data bucket>/<input_prefix>; upload each new dataset there"
}
"""Declared parameters a schedule may not set, with the reason."""
PIPELINE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")


class ScheduleParameterError(ValueError):
    """A scheduled parameter the pipeline does not accept; ``field`` is ``parameters.<Name>``."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"parameters.{name}: {detail}")
        self.field = f"parameters.{name}"
        self.detail = detail


def pipeline_arns(pipeline_name: str) -> list[str]:
    """The pipeline's ARN with its name as written and lowercased (IAM compares ARNs case-sensitively)."""
    return [arn("sagemaker", f"pipeline/{name}") for name in both_spellings(pipeline_name)]


def scheduled_parameters(
    values: Mapping[str, ParameterValue], declared: Sequence[Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """``(name, value)`` pairs as StartPipelineExecution takes them, each checked against its declaration.

    ``declared`` is the definition's ``Parameters`` list (``Name``, ``Type``, ``EnumValues``). The types
    are those of "Pipeline parameters" (String, Integer, Float, Boolean; SageMaker guide,
    https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-parameters.html); StartPipelineExecution
    passes every value as a string.

    Raises:
        ScheduleParameterError: naming the parameter and what would be valid.
    """
    by_name = {str(p["Name"]): p for p in declared}
    pairs = []
    for name, value in values.items():
        if name not in by_name:
            raise ScheduleParameterError(name, f"the pipeline declares no such parameter; valid: {', '.join(by_name)}")
        if name in NOT_SCHEDULABLE:
            raise ScheduleParameterError(name, f"cannot be set by a schedule: {NOT_SCHEDULABLE[name]}")
        pairs.append((name, _as_parameter_value(name, value, by_name[name])))
    return pairs


def _as_parameter_value(name: str, value: ParameterValue, declaration: Mapping[str, Any]) -> str:
    kind = declaration.get("Type", "String")
    if kind == "Float" and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return repr(float(value))
    if kind == "Integer" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind == "Boolean" and isinstance(value, str) and value in ("true", "false"):
        return value
    if kind == "String" and isinstance(value, str):
        allowed = declaration.get("EnumValues")
        if allowed and value not in allowed:
            raise ScheduleParameterError(name, f"{value!r} is not allowed; valid: {', '.join(allowed)}")
        return value
    raise ScheduleParameterError(name, f"{value!r} is not a {kind} value")


class PipelineSchedule(Construct):
    """Starts a pipeline on a schedule.

    Attributes:
        group: the ``AWS::Scheduler::ScheduleGroup`` the schedule lives in.
        schedule: the ``AWS::Scheduler::Schedule``.
        role: the execution role Scheduler assumes to call StartPipelineExecution.
        group_name / schedule_name: their names.
        parameters: the ``(name, value)`` pairs every scheduled run passes.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        settings: ScheduleSettings,
        declared_parameters: Sequence[Mapping[str, Any]],
        description: str | None = None,
    ) -> None:
        """Args:
        pipeline_name: the pipeline to start (its ARN is built in the stack's account and region).
        settings: expression, time zone, parameters and state, already validated.
        declared_parameters: the pipeline definition's ``Parameters``, to check ``settings.parameters``.
        description: shown in the Scheduler console; default names the pipeline.
        """
        super().__init__(scope, construct_id)
        pin_feature_flags(self)  # before any child: the same resources under any app's flags
        if not PIPELINE_NAME.match(pipeline_name):
            raise ValueError(f"pipeline_name {pipeline_name!r} must match {PIPELINE_NAME.pattern}")
        self.parameters = scheduled_parameters(settings.parameters, declared_parameters)
        self.group_name = self.schedule_name = bounded_name(pipeline_name, "", MAX_SCHEDULER_NAME)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=self.group_name)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(SCHEDULER_PRINCIPAL, conditions=self._trust_conditions()),
            description=f"Lets EventBridge Scheduler start SageMaker pipeline {pipeline_name}",
        )
        self._grant_start(pipeline_name)
        target = scheduler.CfnSchedule.TargetProperty(
            arn=pipeline_arns(pipeline_name)[0],
            role_arn=self.role.role_arn,
            sage_maker_pipeline_parameters=scheduler.CfnSchedule.SageMakerPipelineParametersProperty(
                pipeline_parameter_list=[
                    scheduler.CfnSchedule.SageMakerPipelineParameterProperty(name=name, value=value)
                    for name, value in self.parameters
                ]
            )
            if self.parameters
            else None,
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS, maximum_retry_attempts=MAX_RETRY_ATTEMPTS
            ),
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            name=self.schedule_name,
            group_name=self.group_name,
            description=description or f"Starts SageMaker pipeline {pipeline_name}",
            schedule_expression=settings.expression,
            schedule_expression_timezone=settings.timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if settings.enabled else "DISABLED",
            target=target,
        )
        self.schedule.node.add_dependency(self.group)
        # The schedule names the role; Scheduler checks at creation that it may assume it and call the target.
        self.schedule.node.add_dependency(self.role.node.find_child("DefaultPolicy"))

    def _trust_conditions(self) -> dict[str, Any]:
        """This account's Scheduler, for schedules of this group only (confused deputy).

        EventBridge Scheduler guide, "Confused deputy prevention"
        (https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html):
        "The value of aws:SourceArn must be your EventBridge Scheduler schedule group ARN", "Do not scope the
        aws:SourceArn statement to a specific schedule or a schedule name prefix". An earlier version of that
        page gave ``schedule/<group>/*`` instead; both forms are listed, each within this group only, so the
        role works whichever ARN Scheduler sends.
        """
        return {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {
                "aws:SourceArn": [
                    arn("scheduler", f"schedule-group/{self.group_name}"),
                    arn("scheduler", f"schedule/{self.group_name}/*"),
                ]
            },
        }

    def _grant_start(self, pipeline_name: str) -> None:
        """StartPipelineExecution on this pipeline only.

        The Scheduler guide's execution role ("Set up the execution role",
        https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role)
        holds the target API's permission; the Service Authorization Reference lists
        ``sagemaker:StartPipelineExecution`` on ``pipeline/${PipelineName}``. The name is granted as written
        and lowercased, since SageMaker writes many ARNs in lowercase and IAM matches them case-sensitively.
        """
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="StartThisPipeline",
                actions=["sagemaker:StartPipelineExecution"],
                resources=pipeline_arns(pipeline_name),
            )
        )
