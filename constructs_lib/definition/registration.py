"""The seed's next step: a quality gate on the trained model, then its registration.

``QualityGate`` compares the selected model's final AUROC (test when the stage declares test, else
validation) with the ``QualityThreshold`` parameter, read straight from the training job's
``FinalMetricDataList``; below it, ``QualityGateFailed`` ends the execution with a message that
names the metric, the value and the threshold. Above it, ``RegisterModel`` creates a version in
the stage's model package group with the training job's ``model.tar.gz`` as it is: a plain
``Model`` with the serving environment, so the SDK adds no repack job. SDK classes come from
``sdk_builder``, the one module that imports the SDK.
"""

from __future__ import annotations

import warnings
from typing import Any

from constructs_lib.config.errors import FieldError
from constructs_lib.definition import pipeline_spec as spec
from constructs_lib.definition.request import DefinitionRequest
from constructs_lib.definition.sdk_builder import (
    ConditionGreaterThanOrEqualTo,
    ConditionStep,
    ExecutionVariables,
    FailStep,
    Join,
    Model,
    ModelStep,
    ParameterFloat,
    ParameterString,
    PipelineSession,
    TrainingStep,
    image_uris,
)


class RegistrationStepsBuilder:
    """Builds ``QualityGate`` with its ``QualityGateFailed`` else-branch and ``RegisterModel`` if-branch.

    Attributes:
        threshold: the ``QualityThreshold`` parameter (Float), defaulting to the stage's setting.
        approval_status: the ``ModelApprovalStatus`` parameter (String), defaulting to the stage's setting.
        parameters: both, in the order the definition lists them.
    """

    def __init__(self, request: DefinitionRequest, session: PipelineSession, training_step: TrainingStep) -> None:
        self.request = request
        self.session = session
        self.training_step = training_step
        self.gate_metric = request.gate_metric
        settings = request.registry
        self.threshold = ParameterFloat(name=spec.QUALITY_THRESHOLD_PARAMETER, default_value=request.quality_threshold)
        # EnumValues: StartPipelineExecution refuses any other status before anything runs, and the
        # pipeline role's IAM condition on sagemaker:ModelApprovalStatus enforces the same set.
        self.approval_status = ParameterString(
            name=spec.MODEL_APPROVAL_STATUS_PARAMETER,
            default_value=settings.approval_status,
            enum_values=list(settings.allowed_approval_statuses),
        )
        self.parameters = [self.threshold, self.approval_status]

    def _final_metric(self, name: str) -> Any:
        """The metric's last value in the training job's ``FinalMetricDataList`` (keyed by metric Name)."""
        return self.training_step.properties.FinalMetricDataList[name].Value

    def inference_image_uri(self) -> str:
        """The registered container image: the configured URI, or the SDK's PyTorch inference image.

        One image serves every supported instance type, so all of them must need the same image.
        """
        settings = self.request.registry
        if settings.inference_image_uri:
            return settings.inference_image_uri
        instance_types = [*settings.inference_instance_types, *settings.transform_instance_types]
        try:
            images = {
                image_uris.retrieve(
                    "pytorch",
                    self.request.region,
                    version=settings.inference_framework_version,
                    py_version=settings.inference_py_version,
                    instance_type=instance_type,
                    image_scope="inference",
                )
                for instance_type in instance_types
            }
        except ValueError as error:  # the SDK's message names what it lacks: version, py_version or processor
            detail = " ".join(str(error).split())
            raise FieldError("registry", f"no PyTorch inference image: {detail}") from None
        if len(images) != 1:
            raise FieldError(
                "registry.inference_instance_types",
                f"{', '.join(instance_types)} (with transform_instance_types) need different inference images "
                f"({', '.join(sorted(images))}); one registered image serves them all: use only CPU or only GPU "
                "types, or set registry.inference_image_uri",
            )
        (image,) = images
        return str(image)

    def _customer_metadata(self) -> dict[str, Any]:
        """The figures the gate saw, recorded on the version as strings (pipeline expressions)."""
        metadata: dict[str, Any] = {
            spec.GATE_METRIC_KEY: self.gate_metric,
            spec.THRESHOLD_KEY: Join(on="", values=[self.threshold]),
            spec.TRAINING_JOB_KEY: self.training_step.properties.TrainingJobName,
        }
        for name in self.request.recorded_metrics:
            metadata[name] = Join(on="", values=[self._final_metric(name)])
        return metadata

    def create_register_step(self) -> ModelStep:
        """``RegisterModel``: a version in the stage's group, serving the job's ``model.tar.gz`` unchanged."""
        settings = self.request.registry
        model = Model(
            image_uri=self.inference_image_uri(),
            model_data=self.training_step.properties.ModelArtifacts.S3ModelArtifacts,
            env=dict(spec.SERVING_ENVIRONMENT),
            sagemaker_session=self.session,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession")
            step_args = model.register(
                content_types=list(spec.REQUEST_CONTENT_TYPES),
                response_types=list(spec.RESPONSE_CONTENT_TYPES),
                inference_instances=list(settings.inference_instance_types),
                transform_instances=list(settings.transform_instance_types),
                model_package_group_name=self.request.model_package_group_name,
                approval_status=self.approval_status,
                description=Join(
                    on="",
                    values=[
                        f"PyTorch binary classifier from pipeline {self.request.pipeline_name}, execution ",
                        ExecutionVariables.PIPELINE_EXECUTION_ARN,
                    ],
                ),
                customer_metadata_properties=self._customer_metadata(),
            )
        return ModelStep(name=spec.REGISTER_MODEL_STEP_NAME, step_args=step_args)

    def create_fail_step(self) -> FailStep:
        """``QualityGateFailed``: ends the execution as failed, naming the metric, its value and the threshold."""
        values = spec.fail_message_values(self.gate_metric, self._final_metric(self.gate_metric), self.threshold)
        return FailStep(name=spec.QUALITY_GATE_FAILED_STEP_NAME, error_message=Join(on="", values=values))

    def create_quality_gate(self) -> ConditionStep:
        """``QualityGate``: the gate metric >= ``QualityThreshold`` registers the model, anything else fails."""
        condition = ConditionGreaterThanOrEqualTo(left=self._final_metric(self.gate_metric), right=self.threshold)
        return ConditionStep(
            name=spec.QUALITY_GATE_STEP_NAME,
            conditions=[condition],
            if_steps=[self.create_register_step()],
            else_steps=[self.create_fail_step()],
        )
