"""Bad props: one ``PropsError`` that names each prop and says what is valid, before anything is created."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_kms as kms
from pydantic import ValidationError

from constructs_lib.config.errors import ConfigError, PropsError
from constructs_lib.config.trainer_spec import TrainerSpec
from constructs_lib.training_pipeline import SageMakerTrainingPipeline
from tests.library.conftest import IMPORTED_KEY_ARN, plain_stack


def trainer_dir(tmp_path: Path, entry_point: str = "fit.py") -> Path:
    folder = tmp_path / "trainer"
    folder.mkdir(exist_ok=True)
    (folder / entry_point).write_text("print('[validation] accuracy=1.0')\n")
    return folder


def spec(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A valid trainer spec as a mapping; each test breaks one thing."""
    return {
        "source_dir": trainer_dir(tmp_path),
        "entry_point": "fit.py",
        "hyperparameters": {"epochs": 10, "rate": 0.1, "layers": [8, 4], "target": "y", "balanced": False},
        "required_channels": ("training",),
        "optional_channels": ("holdout",),
        "metric_definitions": {"accuracy": r"accuracy=([0-9.]+)", "holdout accuracy": r"holdout=([0-9.]+)"},
        "metric_channels": {"holdout accuracy": "holdout"},
        "gate_metric": ("holdout accuracy", "accuracy"),
        "quality_threshold": 0.5,
        **overrides,
    }


def problems_of(**props: Any) -> list[tuple[str, str]]:
    """The ``(prop, detail)`` pairs the construct reports, on a fresh plain stack."""
    stack = plain_stack()
    with pytest.raises(PropsError) as raised:
        SageMakerTrainingPipeline(stack, "Pipeline", **props)
    assert stack.node.find_child("Pipeline").node.children == []  # nothing was created
    assert "Traceback" not in str(raised.value)
    return raised.value.problems


def trainer_problem(tmp_path: Path, **overrides: Any) -> str:
    with pytest.raises(ValidationError) as raised:
        TrainerSpec.model_validate(spec(tmp_path, **overrides))
    return str(raised.value)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"entry_point": "missing.py"}, "entry_point: 'missing.py' is not a file at the root of"),
        ({"source_dir": Path("/no/such/folder")}, "source_dir: '/no/such/folder' is not a folder"),
        ({"gate_metric": "f1"}, "gate_metric: 'f1' not in metric_definitions; valid: 'accuracy', 'holdout accuracy'"),
        ({"required_channels": (), "optional_channels": ()}, "required_channels: a trainer reads at least one channel"),
        ({"metric_definitions": {"accuracy": "accuracy=[0-9.]+"}}, "has 0 groups; SageMaker reads the value from"),
        ({"metric_definitions": {"accuracy": "(a)=(b)"}}, "has 2 groups"),
        ({"metric_definitions": {"accuracy": "accuracy=([0-9"}}, "does not compile"),
        ({"metric_channels": {"accuracy": "test"}}, "metric_channels.accuracy: 'test' is not a channel"),
        ({"hyperparameters": {"sagemaker_program": "x"}}, "names starting with sagemaker_ are the SageMaker SDK's"),
        ({"hyperparameters": {"bad name": 1}}, "must match"),
        ({"required_channels": ("train data",)}, "must match ^[A-Za-z0-9"),
        ({"hyperparameters": {"rate": {"kind": "float", "default": 2.0, "maximum": 1.0}}}, "outside the bound le 1.0"),
        ({"quality_threshold": float("nan")}, "finite"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_trainer_spec_checks_what_sagemaker_would_reject(
    tmp_path: Path, overrides: dict[str, Any], expected: str
) -> None:
    """AlgorithmSpecification.MetricDefinitions reads the value from the regex's one group; Channel.ChannelName is
    ``[A-Za-z0-9\\.\\-_]+`` (SageMaker API Reference, MetricDefinition and Channel)."""
    assert expected in trainer_problem(tmp_path, **overrides)


def test_a_valid_spec_infers_kinds_from_defaults(tmp_path: Path) -> None:
    trainer = TrainerSpec.model_validate(spec(tmp_path))
    kinds = {name: hp.kind for name, hp in trainer.hyperparameters.items()}
    assert kinds == {"epochs": "int", "rate": "float", "layers": "list[int]", "target": "str", "balanced": "bool"}
    assert trainer.gate_metric_for(("training", "holdout")) == "holdout accuracy"
    assert trainer.gate_metric_for(("training",)) == "accuracy"  # the holdout metric is not logged without it


def test_own_hyperparameters_are_checked_against_the_trainers_spec_not_the_bundled_one(tmp_path: Path) -> None:
    trainer = TrainerSpec.model_validate(spec(tmp_path))
    problems = dict(
        problems_of(
            stage_name="team",
            trainer=trainer,
            hyperparameters={"epochs": "ten", "layers": [8, 0.5], "dropout": 0.2, "rate": 0.3},
        )
    )
    assert problems["hyperparameters.epochs"].startswith("Input should be a valid integer")
    assert "hyperparameters.layers.1" in problems
    assert problems["hyperparameters.dropout"].startswith("unknown key")  # the bundled trainer's, not this one's
    assert "hyperparameters.rate" not in problems
    stack = plain_stack()
    built = SageMakerTrainingPipeline(
        stack, "Pipeline", stage_name="team", trainer=trainer, hyperparameters={"rate": 0.3, "layers": [2]}
    )
    assert built.props.trainer is trainer


def test_many_bad_props_are_reported_together() -> None:
    problems = dict(
        problems_of(
            stage_name="team",
            model={"instance_type": "m5.xlarge", "instance_count": 0, "instance_typo": "ml.m5.large"},
            pipeline_name="has spaces",
        )
    )
    assert set(problems) == {"model.instance_type", "model.instance_count", "model.instance_typo", "pipeline_name"}
    assert problems["model.instance_typo"].startswith("unknown key")
    assert "(got 'm5.xlarge')" in problems["model.instance_type"]


def test_channels_must_include_the_trainers_required_ones() -> None:
    (problem,) = problems_of(stage_name="team", channels=["val", "test"])
    assert problem == (
        "channels",
        "must name each channel once: train and val always, test optional; valid: train, val, test",
    )


def test_a_gate_metric_the_channels_cannot_produce(tmp_path: Path) -> None:
    trainer = TrainerSpec.model_validate(spec(tmp_path, gate_metric="holdout accuracy"))
    ((field, detail),) = problems_of(stage_name="team", trainer=trainer, channels=["training"])
    assert field == "channels" and "needs channel holdout; declare it" in detail


def test_a_stack_without_a_region_is_refused() -> None:
    stack = plain_stack(region=None)
    with pytest.raises(PropsError, match=r"region: the stack has no region; give it one \(env=Environment"):
        SageMakerTrainingPipeline(stack, "Pipeline", stage_name="team")


def test_a_key_without_an_imported_bucket_and_a_bucket_that_is_not_one() -> None:
    stack = plain_stack()
    key = kms.Key.from_key_arn(stack, "Key", IMPORTED_KEY_ARN)
    problems = dict(problems_of(stage_name="team", data_bucket_key=key))
    assert problems == {"data_bucket_key": "applies only with data_bucket (the stage's own bucket uses its own key)"}
    problems = dict(problems_of(stage_name="team", data_bucket="my-bucket"))
    assert problems["data_bucket"].startswith("must be an aws_s3.IBucket")


def test_errors_name_the_construct_path_and_are_config_errors() -> None:
    stack = plain_stack()
    with pytest.raises(ConfigError) as raised:
        SageMakerTrainingPipeline(stack, "Pipeline", stage_name="bad name")
    assert str(raised.value).startswith("Plain/Pipeline: stage_name: String should match pattern")


def test_a_mistyped_region_image_combination_names_the_setting() -> None:
    ((field, detail),) = problems_of(stage_name="team", model={"framework_version": "1.0.0"})
    assert field.startswith("model.") and "1.0.0" in detail


def test_a_hyperparameter_value_longer_than_the_api_takes_is_refused() -> None:
    """CreateTrainingJob.HyperParameters values are at most 2500 characters (botocore's HyperParameterValue),
    as the SDK sends them: JSON-encoded once more. 200 real column names pass pydantic but not the API."""
    from constructs_lib.config.api_shapes import sagemaker_shapes
    from constructs_lib.config.hyperparameters import MAX_HYPERPARAMETER_VALUE_LENGTH

    assert sagemaker_shapes()["HyperParameterValue"]["max"] == MAX_HYPERPARAMETER_VALUE_LENGTH
    columns = [f"customer_feature_{index:03d}" for index in range(200)]
    ((field, detail),) = problems_of(stage_name="team", hyperparameters={"feature_columns": columns})
    assert field == "hyperparameters.feature_columns"
    assert "as CreateTrainingJob receives it (JSON-encoded); at most 2500" in detail
    stack = plain_stack()  # a list that fits is fine
    SageMakerTrainingPipeline(stack, "Pipeline", stage_name="team", hyperparameters={"feature_columns": columns[:20]})
