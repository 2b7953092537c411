"""Construct-level fixtures: the L3 in a plain ``Stack`` of a plain ``App``, with no ``cdk.json`` and no flags.

This is how another CDK app uses the library: ``Template.from_stack`` sees exactly what the
construct synthesizes, whatever this repository's ``cdk.json`` says.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from constructs_lib.training_pipeline import SageMakerTrainingPipeline
from tests.conftest import PROJECT_ROOT
from tests.security.cfn_resolver import FAKE_ACCOUNT, CfnEnvironment
from tests.security.stack_iam import StackIam, stack_iam

REGION = "us-east-1"
EXAMPLE_DIR = PROJECT_ROOT / "examples" / "custom_trainer"
IMPORTED_BUCKET = "team-lake-exports"
IMPORTED_KEY_ARN = f"arn:aws:kms:{REGION}:{FAKE_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def plain_stack(region: str | None = REGION) -> cdk.Stack:
    """A ``Stack`` in an ``App`` that sets no context at all (no feature flags)."""
    env = cdk.Environment(region=region) if region else None
    return cdk.Stack(cdk.App(), "Plain", env=env)


@dataclass(frozen=True)
class Built:
    """A construct in its stack, with the synthesized template and its IAM model."""

    construct: SageMakerTrainingPipeline
    template: dict[str, Any]
    iam: StackIam

    @property
    def assertions(self) -> Template:
        return Template.from_json(self.template)


def build(construct: SageMakerTrainingPipeline, external_bucket_keys: dict[str, str] | None = None) -> Built:
    template: dict[str, Any] = Template.from_stack(cdk.Stack.of(construct)).to_json()
    return Built(construct, template, stack_iam(template, CfnEnvironment(REGION), external_bucket_keys))


def load_example_app() -> ModuleType:
    """The example app's module (``app.synth()`` runs only under ``__main__``): its stack and pipeline."""
    spec = importlib.util.spec_from_file_location("custom_trainer_app", EXAMPLE_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def defaults() -> Built:
    """The construct with only its one required prop."""
    return build(SageMakerTrainingPipeline(plain_stack(), "Pipeline", stage_name="team"))


@pytest.fixture(scope="session")
def imported() -> Built:
    """An imported data bucket encrypted with a key of its own, read under ``exports/churn``."""
    stack = plain_stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Lake", IMPORTED_BUCKET)
    key = kms.Key.from_key_arn(stack, "LakeKey", IMPORTED_KEY_ARN)
    construct = SageMakerTrainingPipeline(
        stack, "Pipeline", stage_name="lake", data_bucket=bucket, data_bucket_key=key, input_prefix="exports/churn"
    )
    return build(construct, {IMPORTED_BUCKET: IMPORTED_KEY_ARN})


@pytest.fixture(scope="session")
def own_trainer() -> Built:
    """The example app's construct: its own trainer, in a plain App."""
    return build(load_example_app().pipeline)


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def example_path(*parts: str) -> Path:
    return EXAMPLE_DIR.joinpath(*parts)
