"""``add_automation``: the stage's optional schedule, alerts and deployment, beside its pipeline.

One call from ``TrainingPipelineStack``, beside the stage's ``SageMakerTrainingPipeline``. It reads the stage's
``schedule``, ``notifications`` and ``deployment`` settings, takes what the constructs need from the
stage's resources (names, the key, the bucket) and from the rendered pipeline definition (its declared
parameters, the inference image the versions are registered with), and reports a construct's finding about
a setting in the one ``cdk.json: context.stages.<stage>.<field>`` form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import CfnOutput, Stack

from constructs_lib.config.errors import ConfigError, stage_error
from constructs_lib.config.stage_config import StageConfig
from constructs_lib.definition.checks import all_steps
from constructs_lib.secure_storage import OUTPUT_PREFIX
from constructs_lib.training_pipeline import SageMakerTrainingPipeline

if TYPE_CHECKING:
    from constructs_lib.automation.alerts import PipelineAlerts
    from constructs_lib.automation.deployment import ApprovedModelDeployment
    from constructs_lib.automation.schedule import PipelineSchedule


@dataclass(frozen=True)
class Automation:
    """What ``add_automation`` built; each is None when the stage leaves it off."""

    schedule: PipelineSchedule | None
    alerts: PipelineAlerts | None
    deployment: ApprovedModelDeployment | None


def declared_parameters(definition: str) -> list[dict[str, Any]]:
    """The rendered definition's ``Parameters``."""
    parameters: list[dict[str, Any]] = json.loads(definition).get("Parameters", [])
    return parameters


def registered_inference_image(definition: str) -> str:
    """The image the definition's RegisterModel step registers versions with (one image for every step).

    Raises:
        ConfigError: when the definition registers no version or with several images.
    """
    steps = all_steps(json.loads(definition)["Steps"])
    images = {
        container["Image"]
        for step in steps
        if step.get("Type") == "RegisterModel"
        for container in step["Arguments"]["InferenceSpecification"]["Containers"]
    }
    if len(images) != 1:
        raise ConfigError(f"deployment needs one registered inference image; the definition registers {sorted(images)}")
    (image,) = images
    return str(image)


def add_automation(
    stack: Stack,
    *,
    stage: StageConfig,
    pipeline: SageMakerTrainingPipeline,
    tags: Mapping[str, str],
) -> Automation:
    """Build the automation the stage turns on, beside ``pipeline`` (the stage's L3), with its stack outputs.

    The constructs are imported only when a stage turns them on: their CDK modules (Lambda, EventBridge,
    SNS, Scheduler) take about 0.35 s to load, which every synth would pay otherwise.
    """
    schedule: PipelineSchedule | None = None
    alerts: PipelineAlerts | None = None
    deployment: ApprovedModelDeployment | None = None
    definition = pipeline.sagemaker_pipeline.rendered_definition
    if stage.schedule is not None:
        from constructs_lib.automation.schedule import PipelineSchedule, ScheduleParameterError  # noqa: PLC0415

        try:
            schedule = PipelineSchedule(
                stack,
                "Schedule",
                pipeline_name=pipeline.pipeline_name,
                settings=stage.schedule,
                declared_parameters=declared_parameters(definition),
            )
        except ScheduleParameterError as error:
            raise stage_error(stage.name, f"schedule.{error.field}", error.detail) from None
        CfnOutput(stack, "ScheduleName", value=schedule.schedule_name, description="EventBridge Scheduler schedule")
    if stage.notifications is not None:
        from constructs_lib.automation.alerts import PipelineAlerts  # noqa: PLC0415

        alerts = PipelineAlerts(
            stack,
            "Alerts",
            pipeline_name=pipeline.pipeline_name,
            key=pipeline.key,
            settings=stage.notifications,
            follow_command=f"make follow STAGE={stage.name} EXECUTION=",
        )
        CfnOutput(stack, "AlertsTopicArn", value=alerts.topic_arn, description="Failure alerts and deployment outcomes")
    if stage.deployment is not None:
        from constructs_lib.automation.deployment import ApprovedModelDeployment  # noqa: PLC0415

        if alerts is None:  # StageConfig refuses this; a direct caller gets the same message
            raise stage_error(
                stage.name, "deployment", "needs notifications: deployment outcomes go to the alerts topic"
            )
        deployment = ApprovedModelDeployment(
            stack,
            "Deployment",
            endpoint_name=stage.deployment.resolved_endpoint_name(stage.name),
            settings=stage.deployment,
            model_package_group_name=pipeline.model_registry.group_name,
            key=pipeline.key,
            artifacts_bucket=pipeline.artifacts_bucket,
            artifacts_prefix=OUTPUT_PREFIX,
            inference_image_uri=registered_inference_image(definition),
            topic=alerts.topic,
            owns_topic_key=alerts.owns_topic,
            tags=tags,
            deploy_hint=f"make deploy-model STAGE={stage.name} VERSION=",
        )
        CfnOutput(stack, "EndpointName", value=deployment.endpoint_name, description="Real-time endpoint")
        CfnOutput(
            stack, "DeployerFunctionName", value=deployment.function_name, description="Deploys approved versions"
        )
    return Automation(schedule, alerts, deployment)
