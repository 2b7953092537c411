"""``PublishedCodeBundle``: the trainer's code, kept in the stage's own bucket for as long as a run may need it.

A step that SageMaker Pipelines retries after a redeploy starts a new training job from the
*old* definition, so it downloads the *old* bundle (the toolkit fetches ``sagemaker_submit_directory``
under the job's role). A grant on the current CDK asset object only would deny that retry, and a
grant on the whole CDK asset bucket would let the job read every app's assets in the account.

So the bundle is published as a CDK file asset, as before, and then copied once (S3 CopyObject, by
CDK's ``AwsCustomResource``) to ``s3://<artifacts bucket>/code/sourcedir-<sha256[:16]>.tar.gz``: a
content-addressed key in the stage's own bucket, encrypted with the stage's key. A new bundle gets a
new key and nothing deletes the old ones, so every definition ever deployed still finds its code, and
the training role reads ``code/*`` of its own bucket only. The bundles are kept: each is tens of
kilobytes, and an age-based expiry would also delete the bundle of a pipeline whose code has not
changed since (S3 expires objects by creation date, and an unchanged bundle is never copied again).

CopyObject needs ``s3:GetObject`` on the source and ``s3:PutObject`` on the destination, and writing
into an SSE-KMS bucket needs ``kms:GenerateDataKey`` (Amazon S3 API Reference, CopyObject,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html; Amazon S3 User Guide,
"Using server-side encryption with AWS KMS keys"): those three, on exactly those objects and that key.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Aws, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import custom_resources as cr
from constructs import Construct

from constructs_lib.compliance import NagAcknowledgement, acknowledge_checkov, acknowledge_nag, nag_arn

CODE_PREFIX = "code/"
"""Artifacts-bucket prefix of the content-addressed code bundles."""
COPY_ROLE_ID = "CodeCopyRole"
COPY_LOGS_ID = "CodeCopyLogs"
SINGLETON_ID = "AWS679f53fac002430cb0da5b7982bd2287"
"""The construct id CDK gives the one ``AwsCustomResource`` function of a stack."""
HANDLER_SKIPS = {
    "CKV_AWS_115": "CDK's AwsCustomResource function runs only while CloudFormation deploys this stack; reserving "
    "concurrency for it would only take capacity from the account's unreserved pool.",
    "CKV_AWS_116": "CloudFormation invokes the AwsCustomResource function synchronously and receives its failure as "
    "the custom resource response; a dead-letter queue only applies to asynchronous invocations.",
    "CKV_AWS_117": "The AwsCustomResource function only calls the S3 API (CopyObject); a VPC would need a NAT "
    "gateway or an S3 endpoint for no isolation gain. CDK creates it outside any VPC.",
    "CKV_AWS_173": "The AwsCustomResource function has no environment variables with data to encrypt.",
}


class PublishedCodeBundle(Construct):
    """The code bundle as a CDK file asset, copied to ``code/<bundle file name>`` in the artifacts bucket.

    The copy runs in CDK's one ``AwsCustomResource`` function of the stack, under ``CodeCopyRole``: one
    role per stack, created by the first bundle, trusted by Lambda only, with no managed policy (its own
    log group's streams only); each bundle attaches its own policy (its object, its key) to it.

    Attributes:
        asset: the CDK file asset (what ``cdk deploy`` uploads).
        object_key: ``code/sourcedir-<sha>.tar.gz`` in the artifacts bucket.
        s3_uri: ``s3://<artifacts bucket>/<object_key>``: what the pipeline definition names.
        copy: the custom resource that copies the asset there; whatever reads the bundle depends on it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bundle: Path,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """Args:
        bundle: the ``sourcedir-<sha>.tar.gz`` file.
        artifacts_bucket / key: where the bundle is kept, and the key that bucket encrypts with.
        removal_policy: what stack deletion does to the copy function's log group (the stage's policy).
        """
        super().__init__(scope, construct_id)
        self.asset = s3_assets.Asset(self, "Asset", path=str(bundle))
        self.object_key = f"{CODE_PREFIX}{bundle.name}"
        self.s3_uri = f"s3://{artifacts_bucket.bucket_name}/{self.object_key}"
        copy_call = cr.AwsSdkCall(
            service="S3",
            action="copyObject",
            parameters={
                "Bucket": artifacts_bucket.bucket_name,
                "Key": self.object_key,
                "CopySource": f"{self.asset.s3_bucket_name}/{self.asset.s3_object_key}",
            },
            physical_resource_id=cr.PhysicalResourceId.of(self.object_key),
            logging=cr.Logging.with_data_hidden(),
        )
        role, log_group = _copy_role_and_logs(Stack.of(self), removal_policy)
        source = f"arn:{Aws.PARTITION}:s3:::{self.asset.s3_bucket_name}/{self.asset.s3_object_key}"
        self.copy = cr.AwsCustomResource(
            self,
            "Copy",
            on_create=copy_call,
            on_update=copy_call,  # a new bundle is a new object; the old one stays for old definitions
            install_latest_aws_sdk=False,  # no npm download at deploy time: the runtime's SDK has CopyObject
            role=role,
            log_group=log_group,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(sid="ReadCodeAsset", actions=["s3:GetObject"], resources=[source]),
                    iam.PolicyStatement(
                        sid="WriteCodeBundle",
                        actions=["s3:PutObject"],
                        resources=[artifacts_bucket.arn_for_objects(self.object_key)],
                    ),
                    iam.PolicyStatement(
                        sid="EncryptCodeBundle",
                        actions=["kms:GenerateDataKey"],
                        resources=[key.key_arn],
                        conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
                    ),
                ]
            ),
        )
        _acknowledge_handler(Stack.of(self))


def _copy_role_and_logs(stack: Stack, removal_policy: RemovalPolicy) -> tuple[iam.Role, logs.LogGroup]:
    """The stack's one copy role and log group, created by the first bundle of the stack.

    CDK runs every ``AwsCustomResource`` of a stack in one function, made with the role and log group of
    the first one: when the app made one before, that function copies the bundle (with this bundle's
    policy attached to its role), and a warning says so.
    """
    singleton = stack.node.try_find_child(SINGLETON_ID)
    if singleton is not None and stack.node.try_find_child(COPY_ROLE_ID) is None:
        Annotations.of(stack).add_warning_v2(
            "constructs-lib:codeCopyRole",
            "an AwsCustomResource made before the first SageMakerTrainingPipeline runs every AwsCustomResource "
            "of this stack: the code-bundle copies run under its role (with their own policies attached), not "
            "under CodeCopyRole",
        )
    existing = stack.node.try_find_child(COPY_ROLE_ID)
    if isinstance(existing, iam.Role):
        log_group = stack.node.find_child(COPY_LOGS_ID)
        assert isinstance(log_group, logs.LogGroup)
        return existing, log_group
    log_group = logs.LogGroup(stack, COPY_LOGS_ID, retention=logs.RetentionDays.ONE_YEAR, removal_policy=removal_policy)
    role = iam.Role(
        stack,
        COPY_ROLE_ID,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Copies each training code bundle into its stage's artifacts bucket at deploy time",
    )
    streams = (
        f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:{log_group.log_group_name}:log-stream:*"
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[streams]
        )
    )
    acknowledge_nag(
        role.node.find_child("DefaultPolicy"),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            "Lambda names the copy function's log streams at run time; the role may write streams of its own log "
            "group only (CreateLogStream and PutLogEvents act on log-stream ARNs).",
            (f"Resource::{nag_arn(stack, streams)}",),
        ),
    )
    acknowledge_checkov(
        log_group,
        "CKV_AWS_158",
        "The copy function logs only the status of its CopyObject calls, with request and response data hidden "
        "(Logging.with_data_hidden): no training data or secrets reach this log group.",
    )
    return role, log_group


def _acknowledge_handler(stack: Stack) -> None:
    """checkov's Lambda checks on CDK's one AwsCustomResource function of the stack (recorded once).

    The function waits for its role's policy only: CDK also lists the role, which its ``Role`` GetAtt
    already orders first (cfn-lint W3005).
    """
    function = stack.node.try_find_child(SINGLETON_ID)
    resource = function.node.default_child if function is not None else None
    if isinstance(resource, CfnResource) and not resource.get_metadata("checkov"):
        for check_id, reason in HANDLER_SKIPS.items():
            acknowledge_checkov(resource, check_id, reason)
        role = stack.node.try_find_child(COPY_ROLE_ID)
        policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
        if policy is not None and isinstance(policy.node.default_child, CfnResource):
            resource.add_override("DependsOn", [stack.resolve(policy.node.default_child.logical_id)])
