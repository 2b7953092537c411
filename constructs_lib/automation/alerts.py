"""``PipelineAlerts``: an SNS topic and the EventBridge rules that report a pipeline's failed runs.

SageMaker sends two events per failure ("Events that Amazon SageMaker AI sends to Amazon EventBridge",
https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html):

* "SageMaker Model Building Pipeline Execution Status Change", with ``pipelineArn``,
  ``pipelineExecutionArn``, ``currentPipelineExecutionStatus`` and the start and end times, but no step
  detail: the ``ExecutionFailed`` rule reports ``Failed`` and ``Stopped`` executions;
* "SageMaker Model Building Pipeline Execution Step Status Change": "If the value of currentStepStatus is
  Failed, the event contains the failureReason field": the ``StepFailed`` rule names the step and the reason
  (for example the quality gate's ``QualityGateFailed`` message).

Each rule turns its event into a readable message with an input transformer. The documented examples
write ``pipelineArn`` with the name as created (``pipeline/myPipeline-123``), so the rules match it with
``equals-ignore-case``. "SageMaker AI may send multiple events to EventBridge for each state change", so a
failure can be reported more than once.

Defaults:
    * a new topic ``<pipeline>-alerts`` encrypted with ``key``, SSL-only, with one e-mail subscription per
      address, or the existing ``settings.topic_arn`` (its policy and key are its owner's);
    * the key policy lets EventBridge use ``key`` for this topic only (``kms:EncryptionContext:aws:sns:topicArn``):
      without it, delivery to the encrypted topic fails and nothing reports it;
    * the topic policy lets EventBridge publish only for these rules (``aws:SourceArn``).
"""

from __future__ import annotations

import jsii
from aws_cdk import Aws
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct

from constructs_lib.automation.naming import arn, bounded_name
from constructs_lib.config.automation_config import NotificationSettings
from constructs_lib.feature_flags import pin_feature_flags

EVENTS_PRINCIPAL = "events.amazonaws.com"
EXECUTION_STATUS_EVENT = "SageMaker Model Building Pipeline Execution Status Change"
STEP_STATUS_EVENT = "SageMaker Model Building Pipeline Execution Step Status Change"
ALERTED_EXECUTION_STATUSES = ("Failed", "Stopped")
MAX_RULE_NAME = 64
MAX_TOPIC_NAME = 256
SNS_ENCRYPTION_CONTEXT = "kms:EncryptionContext:aws:sns:topicArn"
"""Amazon SNS encrypts a topic's messages with the encryption context ``aws:sns:topicArn``."""


@jsii.implements(events.IRuleTarget)
class TopicTarget:
    """An SNS topic as a rule target with a fixed message, and no policy change (the construct writes it).

    ``aws_events_targets.SnsTopic`` would add its own unconditioned topic policy statement; this target
    leaves the policy to ``PipelineAlerts``, which conditions it on the rules' ARNs.
    """

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput) -> None:
        self.topic = topic
        self.message = message

    def bind(
        self, rule: events_refs.IRuleRef, id: str | None = None
    ) -> events.RuleTargetConfig:  # IRuleTarget's signature
        """The target's ARN and input; EventBridge uses the topic policy, so no role ("do not specify a RoleArn")."""
        return events.RuleTargetConfig(arn=self.topic.topic_arn, input=self.message)


def console_link() -> str:
    """The SageMaker AI console of the stack's region (Pipelines are under Studio there)."""
    return f"https://{Aws.REGION}.console.aws.amazon.com/sagemaker/home?region={Aws.REGION}"


class PipelineAlerts(Construct):
    """Sends a message to a topic when a run of the pipeline fails or is stopped, and names the failed step.

    Attributes:
        topic: the topic alerts go to (new, or imported from ``settings.topic_arn``).
        topic_arn: its ARN.
        owns_topic: whether this construct created the topic (and so its key and topic policy statements).
        execution_rule / step_rule: the ``AWS::Events::Rule`` resources.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        key: kms.IKey,
        settings: NotificationSettings,
        follow_command: str | None = None,
    ) -> None:
        """Args:
        pipeline_name: the pipeline whose runs are reported.
        key: encrypts a new topic; its key policy gets the EventBridge statement (must be a key this stack owns).
        settings: e-mail addresses for a new topic, or an existing topic's ARN.
        follow_command: a command the message offers to follow the execution, completed with its ARN
            (e.g. ``make follow STAGE=dev EXECUTION=``); default none.
        """
        super().__init__(scope, construct_id)
        pin_feature_flags(self)  # before any child: the same resources under any app's flags
        self.pipeline_name = pipeline_name
        self.owns_topic = settings.topic_arn is None
        rule_names = {
            kind: bounded_name(pipeline_name, suffix, MAX_RULE_NAME)
            for kind, suffix in (("execution", "-run-failed"), ("step", "-step-failed"))
        }
        if settings.topic_arn is not None:
            self.topic: sns.ITopic = sns.Topic.from_topic_arn(self, "Topic", settings.topic_arn)
            self.topic_arn = settings.topic_arn
        else:
            self.topic = self._new_topic(pipeline_name, key, settings, list(rule_names.values()))
            self.topic_arn = self.topic.topic_arn
        pattern_arn = events.Match.equals_ignore_case(arn("sagemaker", f"pipeline/{pipeline_name}"))
        follow = f" Follow it: {follow_command}<execution>." if follow_command else ""
        self.execution_rule = events.Rule(
            self,
            "ExecutionFailed",
            rule_name=rule_names["execution"],
            description=f"Failed or stopped runs of SageMaker pipeline {pipeline_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[EXECUTION_STATUS_EVENT],
                detail={
                    "pipelineArn": pattern_arn,
                    "currentPipelineExecutionStatus": list(ALERTED_EXECUTION_STATUSES),
                },
            ),
            targets=[TopicTarget(self.topic, self._execution_message(follow))],
        )
        self.step_rule = events.Rule(
            self,
            "StepFailed",
            rule_name=rule_names["step"],
            description=f"Failed steps of SageMaker pipeline {pipeline_name}, with the reason",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[STEP_STATUS_EVENT],
                detail={"pipelineArn": pattern_arn, "currentStepStatus": ["Failed"]},
            ),
            targets=[TopicTarget(self.topic, self._step_message(follow))],
        )
        if isinstance(self.topic, sns.Topic):
            self._allow_rules_to_publish(self.topic)

    def _execution_message(self, follow: str) -> events.RuleTargetInput:
        execution = events.EventField.from_path("$.detail.pipelineExecutionArn")
        status = events.EventField.from_path("$.detail.currentPipelineExecutionStatus")
        started = events.EventField.from_path("$.detail.executionStartTime")
        ended = events.EventField.from_path("$.detail.executionEndTime")
        return events.RuleTargetInput.from_text(
            f"SageMaker pipeline {self.pipeline_name}: execution {execution} is {status} (started {started}, ended "
            f"{ended}). The failed step and its reason come in a separate message."
            f"{follow.replace('<execution>', execution)} "
            f"Console: {console_link()} (Pipelines, {self.pipeline_name}, Executions)."
        )

    def _step_message(self, follow: str) -> events.RuleTargetInput:
        execution = events.EventField.from_path("$.detail.pipelineExecutionArn")
        step = events.EventField.from_path("$.detail.stepName")
        step_type = events.EventField.from_path("$.detail.stepType")
        reason = events.EventField.from_path("$.detail.failureReason")
        return events.RuleTargetInput.from_text(
            f"SageMaker pipeline {self.pipeline_name}: step {step} ({step_type}) of execution {execution} failed: "
            f"{reason}{follow.replace('<execution>', execution)} "
            f"Console: {console_link()} (Pipelines, {self.pipeline_name}, Executions)."
        )

    def _new_topic(
        self, pipeline_name: str, key: kms.IKey, settings: NotificationSettings, rule_names: list[str]
    ) -> sns.Topic:
        topic_name = bounded_name(pipeline_name, "-alerts", MAX_TOPIC_NAME)
        topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name=f"{pipeline_name} alerts"[:100],
            master_key=key,
            enforce_ssl=True,
        )
        for address in settings.emails:
            topic.add_subscription(subscriptions.EmailSubscription(address))
        self._allow_events_to_use_key(key, arn("sns", topic_name))
        self._rule_arns = [arn("events", f"rule/{name}") for name in rule_names]
        return topic

    @staticmethod
    def _allow_events_to_use_key(key: kms.IKey, topic_arn: str) -> None:
        """The key policy statement EventBridge needs to publish to the encrypted topic.

        Amazon SNS Developer Guide, "Enable compatibility between event sources from AWS services and
        encrypted topics" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services):
        "To allow the AWS service feature to have the kms:GenerateDataKey* and kms:Decrypt permissions, add
        the following statement to the policy of the CMK using the correct service principal"; for
        EventBridge the principal is ``events.amazonaws.com``. The statement is limited to this topic by the
        encryption context SNS uses, and names the topic's ARN as a string, since a reference to the topic
        would make the key depend on the topic that depends on it.

        Raises:
            ValueError: when ``key``'s policy is not this stack's to change (an imported key).
        """
        result = key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgePublishesPipelineAlerts",
                principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {SNS_ENCRYPTION_CONTEXT: topic_arn}},
            )
        )
        if not result.statement_added:
            raise ValueError(
                "key: its key policy cannot be changed from this stack (an imported key); pass a kms.Key created in "
                "the stack, or an existing topic as settings.topic_arn whose key already allows EventBridge"
            )

    def _allow_rules_to_publish(self, topic: sns.Topic) -> None:
        """Topic policy: EventBridge may publish for these two rules of this account only.

        EventBridge User Guide, "Using resource-based policies for Amazon EventBridge", Amazon SNS
        permissions (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html):
        SNS targets are authorized by the topic's resource policy for ``events.amazonaws.com``; EventBridge
        sends the rule's ARN as ``aws:SourceArn``, as its Lambda example conditions on.
        """
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgePublishesPipelineAlerts",
                principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": self._rule_arns},
                },
            )
        )
