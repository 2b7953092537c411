"""Everything that determines a rendered pipeline definition, as one hashable value.

The renderer (``constructs_lib.definition.sdk_builder``) turns a ``DefinitionRequest``
into the definition JSON; ``constructs_lib.definition.render_cache`` keys its cache on the
request plus the code and SDK version that render it.
"""

from __future__ import annotations

from pydantic import Field

from constructs_lib.config.model_config import ModelConfig, ModelHyperparameters, StrictModel
from constructs_lib.config.registry_config import MODEL_PACKAGE_GROUP_PATTERN, RegistrySettings
from constructs_lib.config.stage_config import STAGE_NAME_PATTERN, NetworkSettings, RetrySettings
from training_src import contract


class DefinitionRequest(StrictModel):
    """Inputs of one offline rendering of the training pipeline's definition.

    S3 URIs and ARNs here are placeholders shaped like the real thing; the construct
    swaps them for CDK tokens after rendering. ``stage_name`` only names the stage in errors.
    """

    stage_name: str = Field(..., pattern=STAGE_NAME_PATTERN)
    pipeline_name: str
    region: str
    role_arn: str = Field(..., pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/.+$")
    kms_key_arn: str = Field(..., pattern=r"^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:key/.+$")
    model: ModelConfig
    hyperparameters: ModelHyperparameters
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    channels: tuple[str, ...] = contract.CHANNELS
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    model_package_group_name: str = Field(..., pattern=MODEL_PACKAGE_GROUP_PATTERN)
