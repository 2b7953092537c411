"""``SageMakerTrainingPipeline`` on a plain stack: its defaults, an imported bucket, and a trainer of its own."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from constructs_lib.config.default_trainer import default_trainer
from constructs_lib.training_pipeline import SageMakerTrainingPipeline
from tests.conftest import step_named
from tests.library.conftest import (
    IMPORTED_BUCKET,
    IMPORTED_KEY_ARN,
    REGION,
    Built,
    example_path,
    load_example_app,
    plain_stack,
    resources_of,
)
from tests.security.cfn_resolver import CfnEnvironment, TemplateResolver, pipeline_definition


def _resolver(built: Built) -> TemplateResolver:
    return TemplateResolver(built.template, CfnEnvironment(REGION))


def definition(built: Built) -> dict[str, Any]:
    """The pipeline definition, every token resolved in the fake account."""
    return pipeline_definition(built.template, _resolver(built))


def statements(built: Built, role_prefix: str) -> dict[str, dict[str, Any]]:
    (policy,) = [
        resource["Properties"]["PolicyDocument"]
        for resource in resources_of(built.template, "AWS::IAM::Policy").values()
        if resource["Properties"]["Roles"][0]["Ref"].startswith(role_prefix)
    ]
    return {statement["Sid"]: statement for statement in policy["Statement"] if "Sid" in statement}


# --- defaults ---------------------------------------------------------------------------------------------------


def test_defaults_create_a_rotated_key_and_three_private_encrypted_buckets(defaults: Built) -> None:
    template = defaults.assertions
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.resource_count_is("AWS::S3::Bucket", 3)
    for bucket in resources_of(defaults.template, "AWS::S3::Bucket").values():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        assert "AccessControl" not in properties  # no ACL, whatever the app's s3 feature flags
        assert bucket["DeletionPolicy"] == "Retain"
    kms_buckets = [
        b for b in resources_of(defaults.template, "AWS::S3::Bucket").values() if "KMSMasterKeyID" in json.dumps(b)
    ]
    assert len(kms_buckets) == 2  # data and artifacts; the log bucket is SSE-S3, as server access logging needs


def test_defaults_name_the_pipeline_and_group_after_the_stage(defaults: Built) -> None:
    template = defaults.assertions
    template.has_resource_properties(
        "AWS::SageMaker::Pipeline",
        {
            "PipelineName": "team-pytorch-training",
            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("^Pipeline"), "Arn"]},
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": "team-pytorch-models"}
    )
    assert defaults.construct.pipeline_name == "team-pytorch-training"


def test_defaults_train_the_bundled_trainer_with_its_metrics_and_gate(defaults: Built) -> None:
    found = definition(defaults)
    training = step_named(found, "ModelTraining")["Arguments"]
    bundled = default_trainer()
    assert training["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": name, "Regex": regex} for name, regex in bundled.metric_definitions.items()
    ]
    assert [channel["ChannelName"] for channel in training["InputDataConfig"]] == list(bundled.channels)
    gate = step_named(found, "QualityGate")["Arguments"]["Conditions"][0]
    assert gate["LeftValue"]["Get"] == "Steps.ModelTraining.FinalMetricDataList['Test AUC ROC'].Value"
    (threshold,) = [p for p in found["Parameters"] if p["Name"] == "QualityThreshold"]
    assert threshold["DefaultValue"] == bundled.quality_threshold


def test_the_pipeline_waits_for_both_roles_policies(defaults: Built) -> None:
    """Without these, a first execution could start before PassRole and the S3/KMS grants exist."""
    (pipeline,) = resources_of(defaults.template, "AWS::SageMaker::Pipeline").values()
    policies = {p for p in resources_of(defaults.template, "AWS::IAM::Policy") if "RoleDefaultPolicy" in p}
    policies -= {p for p in policies if p.startswith("CodeCopy")}
    assert policies <= set(pipeline["DependsOn"]) and len(policies) == 2
    copies = [k for k, r in defaults.template["Resources"].items() if r["Type"] == "Custom::CodeBundleCopy"]
    assert len(copies) == 1 and copies[0] in pipeline["DependsOn"]  # the bundle is in place before a first run
    (group,) = resources_of(defaults.template, "AWS::SageMaker::ModelPackageGroup")
    assert group in pipeline["DependsOn"]


def test_the_construct_exposes_its_resources(defaults: Built) -> None:
    construct = defaults.construct
    assert construct.pipeline is construct.sagemaker_pipeline.pipeline
    assert construct.key is construct.storage.key
    assert construct.data_bucket is construct.storage.data_bucket
    assert construct.model_package_group is construct.model_registry.group
    assert construct.props.stage_name == "team"


# --- grant_start_execution ----------------------------------------------------------------------------------------


def test_grant_start_execution_allows_starting_this_pipeline_only() -> None:
    stack = plain_stack()
    construct = SageMakerTrainingPipeline(stack, "Pipeline", stage_name="Team", pipeline_name="Team-Training")
    ci = iam.Role(stack, "Ci", assumed_by=iam.AccountRootPrincipal())
    grant = construct.grant_start_execution(ci)
    assert grant.success
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("^Ci")}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "sagemaker:StartPipelineExecution",
                        "Effect": "Allow",
                        "Resource": [
                            Match.object_like({"Fn::Join": ["", Match.array_with([":pipeline/Team-Training"])]}),
                            Match.object_like({"Fn::Join": ["", Match.array_with([":pipeline/team-training"])]}),
                        ],
                    }
                ]
            },
        },
    )


# --- an imported data bucket ----------------------------------------------------------------------------------


def test_an_imported_bucket_is_used_as_it_is(imported: Built) -> None:
    buckets = resources_of(imported.template, "AWS::S3::Bucket")
    assert len(buckets) == 2  # artifacts and access logs: no data bucket of the stage's own
    policies = [p["Properties"]["Bucket"] for p in resources_of(imported.template, "AWS::S3::BucketPolicy").values()]
    assert IMPORTED_BUCKET not in json.dumps(policies)  # its bucket policy is not ours to change
    assert imported.construct.data_bucket.bucket_name == IMPORTED_BUCKET
    (input_uri,) = [p for p in definition(imported)["Parameters"] if p["Name"] == "InputDataUri"]
    assert input_uri["DefaultValue"] == f"s3://{IMPORTED_BUCKET}/exports/churn"


def test_an_imported_bucket_is_readable_under_the_prefix_only(imported: Built) -> None:
    found = statements(imported, "PipelineTrainingRole")
    assert found["ListInputPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["exports/churn", "exports/churn/*"]}}
    assert _resolver(imported).resolve(found["ReadInput"]["Resource"]) == (
        f"arn:aws:s3:::{IMPORTED_BUCKET}/exports/churn/*"
    )
    assert found["ReadInput"]["Action"] == "s3:GetObject"
    decrypt = found["DecryptInputData"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == IMPORTED_KEY_ARN
    assert _resolver(imported).resolve(decrypt["Condition"]) == {
        "StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    }


def test_an_imported_bucket_without_a_key_of_its_own_gets_no_decrypt_grant() -> None:
    stack = plain_stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Lake", IMPORTED_BUCKET)
    SageMakerTrainingPipeline(stack, "Pipeline", stage_name="lake", data_bucket=bucket)
    text = json.dumps(Template.from_stack(stack).to_json())
    assert "DecryptInputData" not in text and "ReadInput" in text


# --- a trainer of its own ------------------------------------------------------------------------------------------


def test_the_code_asset_is_the_apps_own_trainer(own_trainer: Built) -> None:
    asset = Path(own_trainer.construct.sagemaker_pipeline.code_asset.asset_path)
    if not asset.is_absolute():
        asset = Path(cdk.Stage.of(own_trainer.construct).outdir) / asset
    with tarfile.open(asset, "r:gz") as bundle:
        names = sorted(bundle.getnames())
    expected = sorted(p.name for p in example_path("trainer").iterdir() if p.is_file())
    assert names == expected and "fit.py" in names and "train.py" not in names


def test_the_metrics_gate_and_hyperparameters_are_the_apps_own(own_trainer: Built) -> None:
    found = definition(own_trainer)
    training = step_named(found, "ModelTraining")["Arguments"]
    assert training["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "training:log_loss", "Regex": r"\[training\] log_loss=([0-9.]+)"},
        {"Name": "validation:accuracy", "Regex": r"\[validation\] accuracy=([0-9.]+)"},
    ]
    assert [c["ChannelName"] for c in training["InputDataConfig"]] == ["training", "validation"]
    hyperparameters = {
        k: json.loads(v) for k, v in training["HyperParameters"].items() if not k.startswith("sagemaker")
    }
    assert hyperparameters == {"target": "churned", "learning_rate": "0.05", "epochs": "60", "l2": "0.0001"}
    assert json.loads(training["HyperParameters"]["sagemaker_program"]) == "fit.py"
    gate = step_named(found, "QualityGate")["Arguments"]["Conditions"][0]
    assert gate["LeftValue"]["Get"] == "Steps.ModelTraining.FinalMetricDataList['validation:accuracy'].Value"
    (threshold,) = [p for p in found["Parameters"] if p["Name"] == "QualityThreshold"]
    assert threshold["DefaultValue"] == 0.6
    register = step_named(found, "RegisterModel-RegisterModel")["Arguments"]
    assert set(register["CustomerMetadataProperties"]) == {
        "QualityGateMetric",
        "QualityThreshold",
        "TrainingJobName",
        "validation:accuracy",
    }


def test_the_example_app_starts_runs_with_a_role_of_its_own() -> None:
    module = load_example_app()
    statement = next(
        s
        for policy in resources_of(Template.from_stack(module.stack).to_json(), "AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"][0]["Ref"].startswith("Starter")
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
    assert statement["Action"] == "sagemaker:StartPipelineExecution"


def test_pinned_flags_make_the_resources_independent_of_the_apps_flags() -> None:
    """The same construct in an app with this repository's flags and in one with none: the same resources.

    Only ``@aws-cdk/core`` flags, read from the stack, may differ (the partition as a literal or a Ref).
    """
    with_flags = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
    flags = {k: v for k, v in with_flags.items() if k.startswith("@aws-cdk") and not k.startswith("@aws-cdk/core")}
    templates = []
    for context in ({}, flags):
        stack = cdk.Stack(cdk.App(context=context), "Plain", env=cdk.Environment(region=REGION))
        SageMakerTrainingPipeline(stack, "Pipeline", stage_name="team")
        templates.append(Template.from_stack(stack).to_json()["Resources"])
    assert templates[0] == templates[1]


def test_a_destroy_stage_removes_the_code_copy_log_group_with_it() -> None:
    stack = plain_stack()
    SageMakerTrainingPipeline(stack, "Pipeline", stage_name="team", storage={"removal_policy": "destroy"})
    groups = resources_of(Template.from_stack(stack).to_json(), "AWS::Logs::LogGroup")
    assert [g["DeletionPolicy"] for k, g in groups.items() if k.startswith("CodeCopyFunctionLogs")] == ["Delete"]


def test_two_pipelines_in_one_stack_share_the_copy_function_with_a_policy_each() -> None:
    stack = plain_stack()
    SageMakerTrainingPipeline(stack, "First", stage_name="first")
    SageMakerTrainingPipeline(stack, "Second", stage_name="second")
    template = Template.from_stack(stack).to_json()
    assert len([k for k in resources_of(template, "AWS::Lambda::Function") if k.startswith("CodeCopyFunction")]) == 1
    copies = resources_of(template, "Custom::CodeBundleCopy")
    assert len(copies) == 2
    policies = [p for k, p in resources_of(template, "AWS::IAM::Policy").items() if "CopyPolicy" in k]
    written = sorted(json.dumps(p["Properties"]["PolicyDocument"]).count("/code/sourcedir-") for p in policies)
    assert written == [1, 1]  # each policy names its own bundle only


def _copy_resources_tags(stack: cdk.Stack) -> dict[str, Any]:
    template = Template.from_stack(stack).to_json()
    return {
        key: resource["Properties"].get("Tags")
        for key, resource in template["Resources"].items()
        if key.startswith("CodeCopyFunction") and resource["Type"] in {"AWS::Lambda::Function", "AWS::Logs::LogGroup"}
    }


@pytest.mark.parametrize("stabilized", [False, True])
def test_the_plain_copy_function_and_log_group_carry_the_apps_tags(stabilized: bool) -> None:
    """``Tags.of(app)`` reaches only typed L1s; the copy function and its log group are plain CfnResources
    (cheaper to synthesize), so the library mirrors the tags the copy role got onto them: with aspects run
    in tree order (no flags) and by priority (``@aws-cdk/core:aspectStabilization``)."""
    stack = plain_stack()
    if stabilized:
        app = cdk.App(context={"@aws-cdk/core:aspectStabilization": True})
        stack = cdk.Stack(app, "Plain", env=cdk.Environment(region=REGION))
    SageMakerTrainingPipeline(stack, "Pipeline", stage_name="team")
    cdk.Tags.of(stack.node.scope).add("CostCenter", "ml-42")  # type: ignore[arg-type]  # the app
    cdk.Tags.of(stack).add("Owner", "platform")
    tags = _copy_resources_tags(stack)
    assert len(tags) == 2, tags
    for key, value in tags.items():
        assert value == [{"Key": "CostCenter", "Value": "ml-42"}, {"Key": "Owner", "Value": "platform"}], key


def test_without_the_mirror_the_plain_resources_would_be_untagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative case: the test above fails when the mirror is not wired."""
    from constructs_lib import code_bundle

    monkeypatch.setattr(code_bundle, "mirror_tags", lambda *_: None)
    stack = plain_stack()
    SageMakerTrainingPipeline(stack, "Pipeline", stage_name="team")
    cdk.Tags.of(stack).add("Owner", "platform")
    assert set(_copy_resources_tags(stack).values()) == {None}
