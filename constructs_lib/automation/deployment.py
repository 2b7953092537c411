"""``ApprovedModelDeployment``: deploys each approved model version of a group to a real-time endpoint.

An EventBridge rule on "SageMaker Model Package State Change" for the group, with ``ModelApprovalStatus``
``Approved`` (SageMaker's event carries ``ModelPackageGroupName``, ``ModelPackageArn`` and
``ModelApprovalStatus``: "Events that Amazon SageMaker AI sends to Amazon EventBridge", Model package state
change), invokes a small Python function (``runtime/endpoint_deployer``) that creates a model from the
version, an endpoint configuration and the endpoint, or updates the endpoint blue/green with automatic
rollback on two CloudWatch alarms created here. A second rule sends the endpoint's state changes to the same
function, which reports the outcome (live, rolled back, failed) to the alerts topic.

Defaults:
    * variant ``AllTraffic``, the instance type and count of ``settings``, weight 1;
    * the endpoint configuration carries the stage key, except on instance types with local storage;
    * data capture off (``settings.data_capture_percent``);
    * rollback alarms on ``Invocation5XXErrors`` (Average) and ``ModelLatency`` (Average, microseconds) of the
      variant, one-minute periods, two periods running, missing data not breaching;
    * the function: Python 3.14 (the newest Lambda runtime CDK knows; cdk-nag L1), 256 MB, 2 minutes, no
      retries of a failed invocation (the alerts topic is its dead-letter target), log group
      ``/aws/lambda/<endpoint>-deployer`` kept one year, logs and environment encrypted with the stage key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Aws, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib.automation.deployer_grants import DeployerAccess, grant_deployer
from constructs_lib.automation.deployment_grants import (
    EndpointNames,
    grant_inference,
    inference_trust,
)
from constructs_lib.automation.endpoint_rollout import (
    VARIANT_NAME,
    data_capture_config,
    deployment_config,
    rollback_alarms,
)
from constructs_lib.automation.naming import arn, bounded_name
from constructs_lib.automation.runtime.endpoint_deployer.config import ENVIRONMENT_VARIABLE
from constructs_lib.compliance import acknowledge_checkov
from constructs_lib.config.automation_config import ENDPOINT_NAME_PATTERN, MAX_ENDPOINT_NAME, DeploymentSettings
from constructs_lib.config.image_catalog import parse_ecr_image_uri
from constructs_lib.feature_flags import pin_feature_flags

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
HANDLER = "endpoint_deployer.handler.handle"
MODEL_PACKAGE_EVENT = "SageMaker Model Package State Change"
ENDPOINT_EVENT = "SageMaker Endpoint State Change"
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")
"""The actions of the CloudWatch Logs guide's key policy statement for encrypted log groups."""
FUNCTION_CHECKOV_SKIPS = {
    "CKV_AWS_117": "The deployer only calls the SageMaker, SNS and CloudWatch APIs and holds no data; a VPC would "
    "need NAT or interface endpoints for those APIs for no isolation gain.",
    "CKV_AWS_115": "Reserving concurrency fails in accounts whose Lambda concurrency quota is the new-account 10; "
    "concurrent deployments are refused by the endpoint itself (an Updating endpoint is reported, not updated).",
}
"""checkov findings on the deployer function that are acknowledged, with the reason."""


class ApprovedModelDeployment(Construct):
    """Deploys approved versions of a model package group to one endpoint, with rollback alarms.

    Attributes:
        endpoint_name: the endpoint (created by the function on the first approval, not by CloudFormation).
        inference_role: the models' execution role.
        function: the deployer ``lambda_.Function``; ``function_name`` its name.
        log_group: the function's log group.
        error_alarm / latency_alarm: the auto-rollback alarms.
        approval_rule / endpoint_rule: the two ``AWS::Events::Rule`` resources.
        deployment_config: UpdateEndpoint's ``DeploymentConfig`` as the function sends it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        settings: DeploymentSettings,
        model_package_group_name: str,
        key: kms.IKey,
        artifacts_bucket: s3.IBucket,
        artifacts_prefix: str,
        inference_image_uri: str,
        topic: sns.ITopic,
        owns_topic_key: bool,
        tags: Mapping[str, str] | None = None,
        deploy_hint: str = "",
    ) -> None:
        """Args:
        endpoint_name: at most 40 characters (models are ``<endpoint>-v<version>-<time>``).
        settings: instance type and count, rollout and alarm thresholds, data capture.
        model_package_group_name: the group whose approved versions are deployed.
        key: the stage key: endpoint volumes, data capture, the function's environment and logs.
        artifacts_bucket / artifacts_prefix: where registered versions' ``model.tar.gz`` files are.
        inference_image_uri: the ECR image the versions are registered with (the inference role pulls it).
        topic: where outcomes go, also the function's dead-letter target.
        owns_topic_key: whether ``topic`` is encrypted with ``key`` (then the function may use the key for it).
        tags: tags of the models, configurations and endpoint the function creates; default none.
        deploy_hint: how an operator deploys by hand, completed with a version number in messages.
        """
        super().__init__(scope, construct_id)
        pin_feature_flags(self)  # before any child: the same resources under any app's flags
        self._validate(endpoint_name, inference_image_uri, artifacts_prefix)
        self.endpoint_name = endpoint_name
        self.function_name = bounded_name(endpoint_name, "-deployer", 64)
        names = EndpointNames(
            endpoint_name, model_package_group_name, (f"{endpoint_name}-5xx-errors", f"{endpoint_name}-model-latency")
        )
        self.error_alarm, self.latency_alarm = rollback_alarms(self, names, settings)
        self.inference_role = iam.Role(
            self,
            "InferenceRole",
            assumed_by=inference_trust(),
            description=f"Execution role of the models served by endpoint {endpoint_name}",
        )
        grant_inference(
            self.inference_role,
            names=names,
            artifacts_bucket=artifacts_bucket,
            artifacts_prefix=artifacts_prefix,
            key=key,
            image_uri=inference_image_uri,
            data_capture=settings.data_capture_percent is not None,
        )
        self.deployment_config = deployment_config(settings, names)
        self.log_group = self._log_group(key)
        role = iam.Role(
            self,
            "DeployerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Deploys approved versions of {model_package_group_name} to endpoint {endpoint_name}",
        )
        grant_deployer(
            role,
            DeployerAccess(
                names=names,
                inference_role=self.inference_role,
                key=key,
                topic_arn=topic.topic_arn,
                owns_topic_key=owns_topic_key,
                encrypts_volume=settings.encrypts_volume,
                instance_type=settings.instance_type,
                tagged=bool(tags),
                log_group_name=self.log_group_name,
            ),
        )
        document = {
            "endpoint_name": endpoint_name,
            "variant_name": VARIANT_NAME,
            "group_name": model_package_group_name,
            "inference_role_arn": self.inference_role.role_arn,
            "instance_type": settings.instance_type,
            "instance_count": settings.initial_instance_count,
            "kms_key_arn": key.key_arn if settings.encrypts_volume else "",
            "deployment_config": self.deployment_config,
            "topic_arn": topic.topic_arn,
            "data_capture": data_capture_config(settings, artifacts_bucket, endpoint_name, key),
            "tags": [{"Key": k, "Value": v} for k, v in sorted((tags or {}).items())],
            "deploy_hint": deploy_hint,
        }
        self.function = lambda_.Function(
            self,
            "Deployer",
            function_name=self.function_name,
            description=f"Deploys approved versions of {model_package_group_name} to endpoint {endpoint_name}",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(RUNTIME_DIR), exclude=["**/__pycache__", "**/*.pyc"]),
            role=role,
            memory_size=256,
            timeout=Duration.minutes(2),
            environment={ENVIRONMENT_VARIABLE: Stack.of(self).to_json_string(document)},
            environment_encryption=key,
            log_group=self.log_group,
            retry_attempts=0,
            max_event_age=Duration.hours(1),
        )
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(target_arn=topic.topic_arn)
        # Wait for the role's policy (its first invocation may come right after deploy); the role itself is
        # already ordered by the GetAtt of Properties.Role (cfn-lint W3005).
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, CfnResource)
        cfn_function.add_override("DependsOn", [Stack.of(self).resolve(policy.logical_id)])
        for check_id, reason in FUNCTION_CHECKOV_SKIPS.items():
            acknowledge_checkov(self.function, check_id, reason)
        self.approval_rule, self.endpoint_rule = self._rules(model_package_group_name)

    def _log_group(self, key: kms.IKey) -> logs.LogGroup:
        """The function's log group, encrypted with the stage key.

        CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS" (Step 2, key policy,
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html): the key policy lets
        ``logs.<region>.amazonaws.com`` use the key, limited by the ``kms:EncryptionContext:aws:logs:arn`` of
        the log group. The ARN is written out (a reference would make the key depend on its log group).
        """
        result = key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptsDeployerLogs",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arn("logs", f"log-group:{self.log_group_name}")}
                },
            )
        )
        if not result.statement_added:
            raise ValueError("key: its key policy cannot be changed from this stack (an imported key); pass a kms.Key")
        return logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=self.log_group_name,
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.DESTROY,
        )

    @property
    def log_group_name(self) -> str:
        """``/aws/lambda/<function name>``."""
        return f"/aws/lambda/{self.function_name}"

    @staticmethod
    def _validate(endpoint_name: str, image_uri: str, artifacts_prefix: str) -> None:
        if not re.match(ENDPOINT_NAME_PATTERN, endpoint_name) or len(endpoint_name) > MAX_ENDPOINT_NAME:
            raise ValueError(
                f"endpoint_name {endpoint_name!r} must match {ENDPOINT_NAME_PATTERN} (at most 40 characters)"
            )
        if parse_ecr_image_uri(image_uri) is None:
            raise ValueError(f"inference_image_uri {image_uri!r} is not an Amazon ECR image URI")
        if not artifacts_prefix or artifacts_prefix.startswith("/") or artifacts_prefix.endswith("/"):
            raise ValueError(
                f"artifacts_prefix {artifacts_prefix!r} must be a key prefix without leading or trailing /"
            )

    def _rules(self, group_name: str) -> tuple[events.Rule, events.Rule]:
        target = targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=Duration.hours(1))
        approval = events.Rule(
            self,
            "OnApproval",
            rule_name=bounded_name(self.endpoint_name, "-on-approval", 64),
            description=f"Approved versions of model package group {group_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[MODEL_PACKAGE_EVENT],
                detail={
                    "ModelPackageGroupName": events.Match.equals_ignore_case(group_name),
                    "ModelApprovalStatus": ["Approved"],
                },
            ),
            targets=[target],
        )
        endpoint = events.Rule(
            self,
            "OnEndpointState",
            rule_name=bounded_name(self.endpoint_name, "-state", 64),
            description=f"State changes of endpoint {self.endpoint_name}, reported by the deployer",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[ENDPOINT_EVENT],
                detail={"EndpointName": events.Match.equals_ignore_case(self.endpoint_name)},
            ),
            targets=[target],
        )
        return approval, endpoint
