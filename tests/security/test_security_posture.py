"""The security posture of each stage, asserted resource by resource with ``aws_cdk.assertions``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from constructs_lib.config.cdk_json import read_cdk_json_context
from constructs_lib.config.image_catalog import pytorch_training_images
from constructs_lib.config.stage_config import StageConfig, load_stages
from constructs_lib.secure_storage import CHECKPOINT_PREFIX
from tests.conftest import PROJECT_ROOT, STAGES, pipeline_definition_parts
from tests.security.conftest import BuiltApp

KEY = "StorageKeyBAA9457B"
LOG_BUCKET, DATA_BUCKET, ARTIFACTS_BUCKET = (
    "StorageLogBucket7C8550DC",
    "StorageDataBucketB1B922FA",
    "StorageArtifactsBucketB19151BF",
)
TRAINING_ROLE, PIPELINE_ROLE = "TrainingRoleAA3C7BE5", "PipelineRoleDCFDBB91"
KEY_ARN = {"Fn::GetAtt": [KEY, "Arn"]}


@pytest.fixture(scope="module")
def stages() -> dict[str, StageConfig]:
    context = read_cdk_json_context(PROJECT_ROOT / "cdk.json")
    return {stage.name: stage for stage in load_stages(context)}


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def statements_of(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to ``role``."""
    return [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def token(part: dict[str, Any]) -> str:
    if "Ref" in part:
        return f"<{part['Ref']}>"
    if "Fn::GetAtt" in part:
        return "<{}.{}>".format(*part["Fn::GetAtt"])
    return f"<Sub:{part['Fn::Sub']}>"


def training_arguments(template: dict[str, Any]) -> dict[str, Any]:
    text = "".join(p if isinstance(p, str) else token(p) for p in pipeline_definition_parts(template))
    (step,) = [s for s in json.loads(text)["Steps"] if s["Type"] == "Training"]
    arguments: dict[str, Any] = step["Arguments"]
    return arguments


@pytest.fixture(scope="module", params=STAGES)
def stage_template(request: pytest.FixtureRequest, templates: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    return request.param, templates[request.param]


# --- KMS and buckets ---------------------------------------------------------------------------------


def test_key_is_rotated_and_retained(stage_template: tuple[str, dict[str, Any]]) -> None:
    template = Template.from_json(stage_template[1])
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like({"EnableKeyRotation": True, "PendingWindowInDays": 30}),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_data_and_artifacts_use_the_key_with_a_bucket_key(stage_template: tuple[str, dict[str, Any]]) -> None:
    buckets = resources_of(stage_template[1], "AWS::S3::Bucket")
    assert set(buckets) == {LOG_BUCKET, DATA_BUCKET, ARTIFACTS_BUCKET}
    for name in (DATA_BUCKET, ARTIFACTS_BUCKET):
        (rule,) = buckets[name]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule == {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {"KMSMasterKeyID": KEY_ARN, "SSEAlgorithm": "aws:kms"},
        }
    (log_rule,) = buckets[LOG_BUCKET]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert log_rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}  # S3 access logging needs SSE-S3


def test_buckets_block_public_access_are_versioned_and_retained(stage_template: tuple[str, dict[str, Any]]) -> None:
    for name, bucket in resources_of(stage_template[1], "AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, name
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain"), name


def test_bucket_policies_deny_plain_http_and_old_tls(stage_template: tuple[str, dict[str, Any]]) -> None:
    policies = resources_of(stage_template[1], "AWS::S3::BucketPolicy")
    protected = {policy["Properties"]["Bucket"]["Ref"] for policy in policies.values()}
    assert protected == {LOG_BUCKET, DATA_BUCKET, ARTIFACTS_BUCKET}
    for policy in policies.values():
        bucket = policy["Properties"]["Bucket"]["Ref"]
        bucket_arn = {"Fn::GetAtt": [bucket, "Arn"]}
        objects = {"Fn::Join": ["", [bucket_arn, "/*"]]}
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        conditions = [
            s["Condition"] for s in denies if s["Action"] == "s3:*" and s["Resource"] == [bucket_arn, objects]
        ]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions, bucket
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions, bucket


def test_access_logs_go_to_the_log_bucket(stage_template: tuple[str, dict[str, Any]]) -> None:
    buckets = resources_of(stage_template[1], "AWS::S3::Bucket")
    assert "LoggingConfiguration" not in buckets[LOG_BUCKET]["Properties"]
    for name, prefix in ((DATA_BUCKET, "data-bucket/"), (ARTIFACTS_BUCKET, "artifacts-bucket/")):
        assert buckets[name]["Properties"]["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": LOG_BUCKET},
            "LogFilePrefix": prefix,
        }
    Template.from_json(stage_template[1]).has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": LOG_BUCKET},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:PutObject",
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_lifecycle_rules_use_the_configured_days(
    stage_template: tuple[str, dict[str, Any]], stages: dict[str, StageConfig]
) -> None:
    name, template = stage_template
    storage = stages[name].storage
    buckets = resources_of(template, "AWS::S3::Bucket")
    noncurrent = {
        "Id": "ExpireNoncurrentVersions",
        "NoncurrentVersionExpiration": {"NoncurrentDays": storage.noncurrent_version_expiration_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        "Status": "Enabled",
    }
    for bucket in buckets.values():
        assert noncurrent in bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {
        "Id": "ExpireCheckpoints",
        "Prefix": CHECKPOINT_PREFIX,
        "ExpirationInDays": storage.checkpoint_expiration_days,
        "Status": "Enabled",
    } in buckets[ARTIFACTS_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"Id": "ExpireAccessLogs", "ExpirationInDays": storage.access_log_expiration_days, "Status": "Enabled"} in (
        buckets[LOG_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
    )


def test_dev_expires_checkpoints_after_seven_days(templates: dict[str, dict[str, Any]]) -> None:
    rules = templates["dev"]["Resources"][ARTIFACTS_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {r["Id"]: r.get("ExpirationInDays") for r in rules}["ExpireCheckpoints"] == 7


def test_destroy_stage_deletes_key_and_buckets(built: BuiltApp) -> None:
    template = built.template("destroy")
    for resource in (
        *resources_of(template, "AWS::S3::Bucket").values(),
        *resources_of(template, "AWS::KMS::Key").values(),
    ):
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert resources_of(template, "AWS::KMS::Key")[KEY]["Properties"]["PendingWindowInDays"] == 7
    assert len(resources_of(template, "Custom::S3AutoDeleteObjects")) == 3
    assert {
        r["ExpirationInDays"]
        for r in template["Resources"][ARTIFACTS_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]
        if r["Id"] == "ExpireCheckpoints"
    } == {3}


# --- roles -------------------------------------------------------------------------------------------


def test_roles_are_for_sagemaker_and_have_no_managed_policies(stage_template: tuple[str, dict[str, Any]]) -> None:
    roles = resources_of(stage_template[1], "AWS::IAM::Role")
    (copy_role,) = [logical_id for logical_id in roles if logical_id.startswith("CodeCopyFunctionRole")]
    assert set(roles) - {copy_role} == {TRAINING_ROLE, PIPELINE_ROLE}
    copy = roles.pop(copy_role)["Properties"]  # deploy time only: copies the code bundle into the stage's bucket
    assert "ManagedPolicyArns" not in copy and "Policies" not in copy
    assert [s["Principal"] for s in copy["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": "lambda.amazonaws.com"}
    ]
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert "Policies" not in role["Properties"]
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert {k: v for k, v in trust.items() if k != "Condition"} == {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
        }
        # confused-deputy protection; the values are checked resolved in test_tags_and_trust.py
        assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert set(trust["Condition"]["ArnLike"]) == {"aws:SourceArn"}
    assert resources_of(stage_template[1], "AWS::IAM::ManagedPolicy") == {}


def test_only_the_pipeline_role_passes_only_the_training_role(stage_template: tuple[str, dict[str, Any]]) -> None:
    template = stage_template[1]
    assert not [s for s in statements_of(template, TRAINING_ROLE) if any(a.startswith("iam:") for a in actions(s))]
    pass_role = [s for s in statements_of(template, PIPELINE_ROLE) if "iam:PassRole" in actions(s)]
    assert pass_role == [
        {
            "Action": "iam:PassRole",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [TRAINING_ROLE, "Arn"]},
            "Sid": "PassTrainingRole",
        }
    ]
    pipeline_actions = [a for s in statements_of(template, PIPELINE_ROLE) for a in actions(s)]
    assert not [a for a in pipeline_actions if a.startswith(("s3:", "kms:"))], "the training job does S3 and KMS"


def test_no_action_wildcards(stage_template: tuple[str, dict[str, Any]]) -> None:
    for role in (TRAINING_ROLE, PIPELINE_ROLE):
        for statement in statements_of(stage_template[1], role):
            assert statement["Effect"] == "Allow"
            assert not [a for a in actions(statement) if "*" in a], statement


def test_training_role_ecr_access_is_the_regions_pytorch_training_repository(
    stage_template: tuple[str, dict[str, Any]], stages: dict[str, StageConfig]
) -> None:
    name, template = stage_template
    stage = stages[name]
    account = pytorch_training_images().registries[
        pytorch_training_images().resolve(stage.model.framework_version) or ""
    ][stage.region]
    ecr = [s for s in statements_of(template, TRAINING_ROLE) if any(a.startswith("ecr:") for a in actions(s))]
    by_resource = {json.dumps(s["Resource"]): sorted(actions(s)) for s in ecr}
    repository = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, f":ecr:{stage.region}:{account}:repository/pytorch-training"],
        ]
    }
    assert by_resource == {
        json.dumps(repository): ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        json.dumps("*"): ["ecr:GetAuthorizationToken"],
    }


def test_metrics_are_conditioned_on_the_sagemaker_namespace(stage_template: tuple[str, dict[str, Any]]) -> None:
    metrics = [s for s in statements_of(stage_template[1], TRAINING_ROLE) if "cloudwatch:PutMetricData" in actions(s)]
    assert [s["Condition"] for s in metrics] == [
        {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}
    ]


def test_training_role_s3_access_is_limited_to_its_prefixes(stage_template: tuple[str, dict[str, Any]]) -> None:
    s3 = {
        s["Sid"]: s
        for s in statements_of(stage_template[1], TRAINING_ROLE)
        if s.get("Sid", "").endswith(("Input", "Output", "InputPrefix", "Bundle"))
    }
    assert s3["ReadInput"]["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [DATA_BUCKET, "Arn"]}, "/training-data/*"]]}
    assert s3["ListInputPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["training-data", "training-data/*"]}}
    assert s3["ReadWriteTrainingOutput"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [ARTIFACTS_BUCKET, "Arn"]}, "/training-output/*"]]
    }
    assert s3["ListTrainingOutput"]["Condition"] == {
        "StringLike": {"s3:prefix": ["training-output", "training-output/*"]}
    }
    # every bundle ever published, in the stage's own bucket only (a retried step reads its definition's bundle)
    assert s3["ReadCodeBundle"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [ARTIFACTS_BUCKET, "Arn"]}, "/code/*"]]
    }
    assert s3["ReadCodeBundle"]["Action"] == "s3:GetObject"


def test_vpc_stage_scopes_network_interfaces_to_the_configured_subnet(built: BuiltApp) -> None:
    statements = {s.get("Sid"): s for s in statements_of(built.template("vpc"), TRAINING_ROLE)}
    create = json.dumps(statements["CreateJobInterfaces"]["Resource"])
    assert "subnet/subnet-123" in create and "security-group/sg-123" in create
    assert "ArnEquals" in statements["ManageJobInterfaces"]["Condition"]
    assert "CreateJobInterfaces" not in {s.get("Sid") for s in statements_of(built.template("dev"), TRAINING_ROLE)}


# --- the training job ---------------------------------------------------------------------------------


def test_job_runs_under_the_training_role_with_output_encrypted(stage_template: tuple[str, dict[str, Any]]) -> None:
    arguments = training_arguments(stage_template[1])
    assert arguments["RoleArn"] == f"<{TRAINING_ROLE}.Arn>"
    assert arguments["OutputDataConfig"]["KmsKeyId"] == f"<{KEY}.Arn>"


def test_prod_encrypts_inter_container_traffic_and_skips_the_volume_key_on_g5(
    templates: dict[str, dict[str, Any]],
) -> None:
    arguments = training_arguments(templates["prod"])
    assert arguments["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert arguments["ResourceConfig"]["InstanceCount"] == 2
    assert arguments["EnableInterContainerTrafficEncryption"] is True
    assert "VolumeKmsKeyId" not in arguments["ResourceConfig"]  # NVMe instance storage, encrypted by AWS


def test_dev_encrypts_the_volume_with_the_stage_key_on_m5(templates: dict[str, dict[str, Any]]) -> None:
    arguments = training_arguments(templates["dev"])
    assert arguments["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert arguments["ResourceConfig"]["InstanceCount"] == 1
    assert arguments["ResourceConfig"]["VolumeKmsKeyId"] == f"<{KEY}.Arn>"
    assert not arguments.get("EnableInterContainerTrafficEncryption")


@pytest.mark.parametrize(
    ("instance_type", "takes_volume_key"),
    [
        ("ml.m5.xlarge", True),
        ("ml.c5.2xlarge", True),
        ("ml.p3.2xlarge", True),
        ("ml.g4dn.xlarge", False),
        ("ml.c5d.xlarge", False),
        ("ml.m5d.large", False),
        ("ml.p4d.24xlarge", False),
        ("ml.g5.xlarge", False),
        ("ml.g6.xlarge", False),
        ("ml.p5.48xlarge", False),
        ("ml.trn1.2xlarge", False),
        ("ml.trn2.48xlarge", False),
        ("ml.p6-b200.48xlarge", False),
    ],
)
def test_nvme_families_documented_match_the_list(instance_type: str, takes_volume_key: bool) -> None:
    """The README ("Instance types without a volume key") names these families; the cited list decides
    (``constructs_lib/config/instance_storage.py``, checked against EC2's data in test_instance_storage.py)."""
    from constructs_lib.config.instance_storage import has_local_instance_storage

    assert has_local_instance_storage(instance_type) is not takes_volume_key
