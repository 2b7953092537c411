"""The CLI reads the definition and outputs this app really synthesizes, not only hand-written ones.

The definition the CLI gets from DescribePipeline is the template's ``PipelineDefinitionBody`` with
CloudFormation's tokens resolved; ``definition_of`` puts a readable name in each token's place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops import definition as deployed
from ops import doctor
from ops.params import INPUT_URI_PARAMETER, effective_values
from tests.conftest import STAGES, definition_of
from training_src import contract

INPUT_URI = "s3://data-bucket/training-data/2024-06"


@pytest.mark.parametrize("stage", STAGES)
def test_every_channel_of_the_synthesized_definition_resolves(stage: str, templates: dict[str, Any]) -> None:
    definition = definition_of(templates[stage])
    declared = deployed.parameters(definition)
    assert all(parameter.type in deployed.PARAMETER_TYPES for parameter in declared.values())
    channels = deployed.channels(definition, effective_values(declared, {}))
    names = [channel.name for channel in channels]
    assert set(contract.REQUIRED_CHANNELS) <= set(names) <= set(contract.CHANNELS)
    assert all(channel.uri.startswith("s3://") for channel in channels)
    assert INPUT_URI_PARAMETER in declared
    for channel in deployed.channels(definition, effective_values(declared, {INPUT_URI_PARAMETER: INPUT_URI})):
        assert channel.uri == f"{INPUT_URI}/{channel.name}/"  # the run's InputDataUri, with the folder's slash


@pytest.mark.parametrize("stage", STAGES)
def test_the_stack_has_the_outputs_the_cli_reads(stage: str, templates: dict[str, Any]) -> None:
    assert {"PipelineName", "DataBucketName"} <= set(templates[stage]["Outputs"])


@pytest.mark.parametrize("stage", STAGES)
def test_the_doctor_reads_the_bootstrap_version_the_real_assembly_requires(
    stage: str, synthesized_outdir: Path
) -> None:
    """``make doctor`` compares the account's bootstrap version with these, read from ``cdk synth``'s manifest."""
    version, parameter = doctor.bootstrap_requirement(synthesized_outdir, f"SageMakerTraining-{stage}") or (0, "")
    assert version >= 6  # the DefaultStackSynthesizer's templates need a modern bootstrap stack
    assert parameter == "/cdk-bootstrap/hnb659fds/version"
    template = json.loads((synthesized_outdir / f"SageMakerTraining-{stage}.template.json").read_text())
    assert template["Parameters"]["BootstrapVersion"]["Default"] == parameter  # what CloudFormation resolves
