"""The whole pipeline definition, rendered offline: parameters, training, quality gate, registration.

``sdk_builder`` builds the training step and ``registration`` the gate and the registration; this
module puts them into one ``Pipeline`` and renders its JSON inside the offline AWS environment.
It imports the SDK through ``sdk_builder`` only, so callers import it lazily, as they do that.
"""

from __future__ import annotations

from constructs_lib.definition import pipeline_spec as spec
from constructs_lib.definition.offline_env import offline_aws_environment
from constructs_lib.definition.registration import RegistrationStepsBuilder
from constructs_lib.definition.request import DefinitionRequest
from constructs_lib.definition.sdk_builder import (
    ParameterString,
    Pipeline,
    PyTorchTrainingStepBuilder,
    create_offline_session,
)


def render_pipeline_definition(request: DefinitionRequest) -> str:
    """Render the pipeline definition JSON offline, exactly as the SDK would upload it."""
    with offline_aws_environment():
        return _render(request)


def _render(request: DefinitionRequest) -> str:
    session = create_offline_session(request.region)
    input_data_uri = ParameterString(
        name=spec.INPUT_DATA_URI_PARAMETER, default_value=request.model.input_path.rstrip("/")
    )
    builder = PyTorchTrainingStepBuilder(
        request.model,
        request.hyperparameters,
        session,
        request.role_arn,
        kms_key_arn=request.kms_key_arn,
        network=request.network,
        retries=request.retries,
        channels=request.channels,
        input_data_uri=input_data_uri,
        metric_definitions=request.metric_definitions,
        checkpoint_local_path=request.checkpoint_local_path,
    )
    training_step = builder.create_training_step()
    registration = RegistrationStepsBuilder(request, session, training_step)
    pipeline = Pipeline(
        name=request.pipeline_name,
        parameters=[input_data_uri, *registration.parameters],
        steps=[training_step, registration.create_quality_gate()],
        sagemaker_session=session,
        pipeline_experiment_config=None,  # no Experiments: the pipeline role needs no sagemaker:CreateExperiment
    )
    definition: str = pipeline.definition()
    return definition
