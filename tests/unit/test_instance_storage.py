"""Which instance families train on local NVMe storage: the cited list, checked against AWS's own data.

"You can't request a VolumeKmsKeyId when using an instance type with local storage" ("ResourceConfig",
SageMaker API Reference, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html).
The SageMaker SDK's rule (``sagemaker.utils.volume_size_supported``) calls ``ml.p6-b200`` EBS-backed, so
it synthesized with a volume key. Each family's storage is checked here against EC2's DescribeInstanceTypes
``InstanceStorageSupported``, as recorded in moto's ``ec2/resources/instance_types.json.gz`` (moto
captures it from the real API with its ``scripts/ec2_get_instance_type_offerings.py``/``get_instance_info.py``).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib.resources import files
from typing import Any

import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

from constructs_lib.config import instance_storage
from constructs_lib.config.api_shapes import TRAINING_INSTANCE_TYPES, enum_values
from constructs_lib.config.errors import FieldError
from constructs_lib.config.instance_storage import (
    EBS_ONLY_FAMILIES,
    LOCAL_NVME_FAMILIES,
    UnknownInstanceFamilyError,
    has_local_instance_storage,
    instance_family,
)
from constructs_lib.definition.render import render_pipeline_definition
from tests.unit.definition_requests import make_request, training_step

NOT_CLASSIFIED = {"p6e-gb200"}
"""Training families left out of both lists on purpose (instance_storage's docstring says why)."""
NOT_IN_EC2_DATA = {"p2", "p3"}
"""Previous-generation families DescribeInstanceTypes no longer returns; cited from the docs instead."""


@cache
def ec2_instance_storage() -> dict[str, set[bool]]:
    """Family -> the ``InstanceStorageSupported`` values of its sizes, from EC2's DescribeInstanceTypes."""
    raw = files("moto.ec2.resources").joinpath("instance_types.json.gz").read_bytes()
    families: dict[str, set[bool]] = {}
    for name, info in json.loads(gzip.decompress(raw)).items():
        families.setdefault(name.split(".")[0], set()).add(bool(info.get("InstanceStorageSupported")))
    return families


def training_families() -> set[str]:
    return {instance_family(value) for value in enum_values(TRAINING_INSTANCE_TYPES)}


@pytest.mark.parametrize(
    ("instance_type", "local"),
    [
        *[
            (f"ml.{family}.{size}", True)
            for family, size in [
                ("p3dn", "24xlarge"),
                ("p4d", "24xlarge"),
                ("p4de", "24xlarge"),
                ("p5", "48xlarge"),
                ("p5e", "48xlarge"),
                ("p5en", "48xlarge"),
                ("p6-b200", "48xlarge"),
                ("p6-b300", "48xlarge"),
                ("g4dn", "xlarge"),
                ("g5", "xlarge"),
                ("g6", "xlarge"),
                ("g6e", "xlarge"),
                ("trn1", "2xlarge"),
                ("trn2", "48xlarge"),
                ("r5d", "large"),
                ("c5d", "xlarge"),
                ("m5d", "large"),
            ]
        ],
        ("ml.m5.xlarge", False),
        ("ml.c5.2xlarge", False),
        ("ml.p2.xlarge", False),
        ("ml.p3.2xlarge", False),
        ("ml.c7i-flex.xlarge", False),
    ],
)
def test_the_issue_families(instance_type: str, local: bool) -> None:
    assert has_local_instance_storage(instance_type) is local


def test_every_training_family_is_classified_once() -> None:
    """A botocore upgrade that adds a training family fails here until someone looks up its storage."""
    assert not LOCAL_NVME_FAMILIES & EBS_ONLY_FAMILIES
    assert training_families() - (LOCAL_NVME_FAMILIES | EBS_ONLY_FAMILIES) == NOT_CLASSIFIED


@pytest.mark.parametrize("family", sorted(LOCAL_NVME_FAMILIES | EBS_ONLY_FAMILIES))
def test_each_family_matches_ec2_describe_instance_types(family: str) -> None:
    recorded = ec2_instance_storage()
    if family in NOT_IN_EC2_DATA:
        assert family not in recorded, f"{family} is in EC2's data now: check it there"
        return
    assert recorded[family] == {family in LOCAL_NVME_FAMILIES}, f"{family}: EC2 says {recorded[family]}"


def test_the_sdk_keeps_our_volume_key_on_every_ebs_family() -> None:
    """The SDK drops ``volume_kms_key`` on a type its own rule calls local (``EstimatorBase.__init__``:
    "KMS can only be attached to supported instances"); on our EBS families it must not."""
    from sagemaker.utils import instance_supports_kms

    assert [family for family in sorted(EBS_ONLY_FAMILIES) if not instance_supports_kms(f"ml.{family}.xlarge")] == []


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("ml.p6e-gb200.36xlarge", "the storage of instance family p6e-gb200 (ml.p6e-gb200.36xlarge) is not known"),
        ("ml.q9.huge", "instance family q9"),
        ("m5.xlarge", "'m5.xlarge' is not an ml.<family>.<size> instance type"),
    ],
)
def test_an_unknown_family_is_an_error_listing_the_known_ones(instance_type: str, expected: str) -> None:
    with pytest.raises(UnknownInstanceFamilyError) as raised:
        has_local_instance_storage(instance_type)
    assert expected in str(raised.value)
    assert "known families: c4, c5, c5d," in str(raised.value)
    assert isinstance(raised.value, ValueError)


# --- what the builder renders ------------------------------------------------------------------------


def resource_config_problems(resources: dict[str, Any]) -> str:
    """botocore's validation of ``resources`` against the current ``ResourceConfig`` shape ('' when valid)."""
    model = ServiceModel(Loader().load_service_model("sagemaker", "service-2"), "sagemaker")
    return str(ParamValidator().validate(resources, model.shape_for("ResourceConfig")).generate_report())


def test_p6_b200_renders_without_volume_key_or_size_and_the_api_accepts_it() -> None:
    """The issue's case. Omitting ``VolumeSizeInGB`` is valid today: the current API model gives
    ``ResourceConfig`` no required members and types the size ``OptionalVolumeSizeInGB`` (botocore
    1.44's sagemaker/2017-07-24/service-2.json, the source of the API reference's "Required: No");
    older models (e.g. AWS SDK for Ruby v2's ResourceConfig, "volume_size_in_gb: 1, # required")
    required it, which is why the SDK still writes the key."""
    shapes = Loader().load_service_model("sagemaker", "service-2")["shapes"]
    assert "VolumeSizeInGB" not in shapes["ResourceConfig"].get("required", [])
    assert shapes["ResourceConfig"]["members"]["VolumeSizeInGB"]["shape"] == "OptionalVolumeSizeInGB"

    request = make_request(instance_type="ml.p6-b200.48xlarge", instance_count=2)
    resources = training_step(render_pipeline_definition(request))["Arguments"]["ResourceConfig"]
    assert resources == {"InstanceCount": 2, "InstanceType": "ml.p6-b200.48xlarge"}
    assert resource_config_problems(resources) == ""
    assert "VolumeSizeInGB" in resource_config_problems({**resources, "VolumeSizeInGB": None})  # the check can fail


def test_an_ebs_family_gets_the_volume_key_and_size() -> None:
    resources = training_step(render_pipeline_definition(make_request(instance_type="ml.c5.2xlarge")))["Arguments"][
        "ResourceConfig"
    ]
    assert resources["VolumeSizeInGB"] == 30
    assert resources["VolumeKmsKeyId"].startswith("arn:aws:kms:")


def test_an_unknown_family_fails_the_render_naming_model_instance_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never guessed as EBS (the SDK's default): a family the list lacks stops synth in the one error form."""
    monkeypatch.setattr(instance_storage, "LOCAL_NVME_FAMILIES", LOCAL_NVME_FAMILIES - {"g5"})
    with pytest.raises(FieldError) as raised:  # the stack or the construct puts it at its cdk.json or prop path
        render_pipeline_definition(make_request(instance_type="ml.g5.xlarge"))
    assert raised.value.field == "model.instance_type"
    assert raised.value.detail.startswith("the storage of instance family g5")
    assert "\n" not in raised.value.detail
