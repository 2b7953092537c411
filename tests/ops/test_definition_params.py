"""Reading the deployed definition (parameters, channels) and checking PARAMS: pure functions, no AWS."""

from __future__ import annotations

from typing import Any

import pytest

from ops import definition as deployed
from ops.aws import OperatorError
from ops.params import check_assignments, effective_values, parse_assignments
from tests.ops import shapes

ROOT = f"s3://{shapes.BUCKET}/training-data"
DECLARED = deployed.parameters(shapes.pipeline_definition())


def test_parameters_keep_type_default_and_choices() -> None:
    assert DECLARED["QualityThreshold"] == deployed.Parameter("QualityThreshold", "Float", "0.7")
    assert DECLARED["MaxEpochs"].default == "10"
    assert DECLARED["ModelApprovalStatus"].choices == ("PendingManualApproval", "Approved", "Rejected")


def test_channels_resolve_std_join_over_the_input_uri_parameter() -> None:
    channels = deployed.channels(shapes.pipeline_definition(), {"InputDataUri": f"{ROOT}/2024-06"})
    assert [(c.step, c.name, c.uri) for c in channels] == [
        ("ModelTraining", "train", f"{ROOT}/2024-06/train/"),
        ("ModelTraining", "val", f"{ROOT}/2024-06/val/"),
        ("ModelTraining", "test", f"{ROOT}/2024-06/test/"),
    ]


def test_channels_follow_the_definition_literal_uris_and_nested_steps() -> None:
    fixed = f"s3://{shapes.BUCKET}/fixed/train/"
    definition = shapes.pipeline_definition(channels=("train",), uri=fixed)
    nested = {"Name": "Gate", "Type": "Condition", "Arguments": {"IfSteps": definition["Steps"][:1], "ElseSteps": []}}
    channels = deployed.channels({"Steps": [nested]}, {})
    assert [(c.step, c.uri, c.data_type) for c in channels] == [("ModelTraining", fixed, "S3Prefix")]
    assert deployed.channel_names(shapes.pipeline_definition(channels=("train", "val"))) == ["train", "val"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ({"Std:JsonGet": {"PropertyFile": "x", "Path": "uri"}}, "cannot resolve before the run"),
        ({"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}, "not a pipeline parameter"),
        ({"Get": "Parameters.Missing"}, "not a pipeline parameter"),
        (True, "cannot resolve before the run"),
    ],
)
def test_an_unknown_expression_is_a_clear_error(uri: Any, expected: str) -> None:
    definition = shapes.pipeline_definition(channels=("train",), uri={"Std:Join": {"On": "/", "Values": [uri, "x"]}})
    with pytest.raises(OperatorError, match=expected) as raised:
        deployed.channels(definition, {"InputDataUri": ROOT})
    assert "step ModelTraining, channel train" in str(raised.value)


def test_assignments_are_shell_split_and_checked_for_form() -> None:
    assert parse_assignments("QualityThreshold=0.8 Note='a b=c'") == {"QualityThreshold": "0.8", "Note": "a b=c"}
    assert parse_assignments("") == {}
    with pytest.raises(OperatorError, match="'QualityThreshold' is not Name=value"):
        parse_assignments("QualityThreshold")
    with pytest.raises(OperatorError, match="given twice"):
        parse_assignments("A=1 A=2")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"QualityThreshold": "0.80"}, {"QualityThreshold": "0.80"}),
        ({"MaxEpochs": "12"}, {"MaxEpochs": "12"}),
        ({"UseSpot": "TRUE"}, {"UseSpot": "True"}),
        ({"ModelApprovalStatus": "Approved"}, {"ModelApprovalStatus": "Approved"}),
        ({"InputDataUri": f"{ROOT}/2024-06/"}, {"InputDataUri": f"{ROOT}/2024-06"}),
        ({"InputDataUri": ROOT}, {"InputDataUri": ROOT}),
    ],
)
def test_valid_values_are_normalised(given: dict[str, str], expected: dict[str, str]) -> None:
    assert check_assignments(given, DECLARED, ROOT) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"Threshold": "0.8"}, "unknown parameter 'Threshold'; the deployed pipeline takes: InputDataUri (String), "),
        ({"QualityThreshold": "high"}, "QualityThreshold='high' is not a valid Float: give a finite number"),
        ({"QualityThreshold": "nan"}, "is not a valid Float"),
        ({"MaxEpochs": "1.5"}, "MaxEpochs='1.5' is not a valid Integer: give a whole number"),
        ({"UseSpot": "yes"}, "UseSpot='yes' is not a valid Boolean: give true or false"),
        ({"ModelApprovalStatus": "approved"}, "valid: PendingManualApproval, Approved, Rejected"),
        ({"InputDataUri": f"{ROOT}-old/x"}, f"must be {ROOT} or a folder under {ROOT}/"),
        ({"InputDataUri": "s3://other-bucket/training-data"}, "the only prefix the training role may read"),
        ({"InputDataUri": "x" * 1025}, "at most 1024 characters"),
    ],
)
def test_bad_values_name_the_parameter_and_what_is_valid(given: dict[str, str], expected: str) -> None:
    with pytest.raises(OperatorError) as raised:
        check_assignments(given, DECLARED, ROOT)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_effective_values_are_defaults_overridden_by_given() -> None:
    values = effective_values(DECLARED, {"QualityThreshold": "0.9"})
    assert values["QualityThreshold"] == "0.9"
    assert values["InputDataUri"] == ROOT
