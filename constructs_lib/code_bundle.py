"""``PublishedCodeBundle``: the trainer's code, kept in the stage's own bucket for as long as a run may need it.

A step that SageMaker Pipelines retries after a redeploy starts a new training job from the
*old* definition, so it downloads the *old* bundle (the toolkit fetches ``sagemaker_submit_directory``
under the job's role). A grant on the current CDK asset object only would deny that retry, and a
grant on the whole CDK asset bucket would let the job read every app's assets in the account.

So the bundle is published as a CDK file asset, as before, and then copied once (S3 CopyObject, by a
custom resource, ``runtime/code_copy.py``) to ``s3://<artifacts bucket>/code/sourcedir-<sha256[:16]>.tar.gz``:
a content-addressed key in the stage's own bucket, encrypted with the stage's key. A new bundle gets a
new key and nothing deletes the old ones, so every definition ever deployed still finds its code, and
the training role reads ``code/*`` of its own bucket only. The bundles are kept: each is tens of
kilobytes, and an age-based expiry would also delete the bundle of a pipeline whose code has not
changed since (S3 expires objects by creation date, and an unchanged bundle is never copied again).

CopyObject needs ``s3:GetObject`` on the source and ``s3:PutObject`` on the destination, and writing
into an SSE-KMS bucket needs ``kms:GenerateDataKey`` (Amazon S3 API Reference, CopyObject,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html; Amazon S3 User Guide,
"Using server-side encryption with AWS KMS keys"): those three, on exactly those objects and that key.

The copy function is the library's own (inline code, no asset), one per stack, with its own role and
log group: nothing else in the app runs under that role, and synth stages no handler folder.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnResource, CustomResource, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from constructs_lib.compliance import NagAcknowledgement, acknowledge_checkov, acknowledge_nag, nag_arn
from constructs_lib.pseudo_parameters import account_id, partition, region
from constructs_lib.tag_mirror import mirror_tags

CODE_PREFIX = "code/"
"""Artifacts-bucket prefix of the content-addressed code bundles."""
COPY_FUNCTION_ID = "CodeCopyFunction"
COPY_RESOURCE_TYPE = "Custom::CodeBundleCopy"
FUNCTION_TYPE = "AWS::Lambda::Function"
COPY_RUNTIME = "python3.14"
"""The newest Python runtime Lambda offers (a test holds it to CDK's own list, as cdk-nag's AwsSolutions-L1
would on a typed function)."""
HANDLER_SOURCE = Path(__file__).resolve().parent / "runtime" / "code_copy.py"
INLINE_CODE_LIMIT = 4096
"""Lambda's ``Code.ZipFile``: at most 4096 characters (AWS::Lambda::Function Code, CloudFormation User Guide)."""
HANDLER_SKIPS = {
    "CKV_AWS_115": "The code-copy function runs only while CloudFormation deploys this stack; reserving "
    "concurrency for it would only take capacity from the account's unreserved pool.",
    "CKV_AWS_116": "CloudFormation invokes the code-copy function synchronously and receives its failure as the "
    "custom resource response; a dead-letter queue only applies to asynchronous invocations.",
    "CKV_AWS_117": "The code-copy function only calls the S3 API (CopyObject); a VPC would need a NAT "
    "gateway or an S3 endpoint for no isolation gain.",
    "CKV_AWS_173": "The code-copy function has no environment variables.",
}


class PublishedCodeBundle(Construct):
    """The code bundle as a CDK file asset, copied to ``code/<bundle file name>`` in the artifacts bucket.

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
        function = copy_function(Stack.of(self), removal_policy)
        source = f"arn:{partition()}:s3:::{self.asset.s3_bucket_name}/{self.asset.s3_object_key}"
        policy = iam.Policy(
            self,
            "CopyPolicy",
            roles=[_role_of(Stack.of(self))],
            statements=[
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
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region()}.amazonaws.com"}},
                ),
            ],
        )
        self.copy = CustomResource(
            self,
            "Copy",
            service_token=Token.as_string(function.get_att("Arn")),
            resource_type=COPY_RESOURCE_TYPE,
            properties={
                "SourceBucket": self.asset.s3_bucket_name,
                "SourceKey": self.asset.s3_object_key,
                "Bucket": artifacts_bucket.bucket_name,
                "Key": self.object_key,
            },
        )
        self.copy.node.add_dependency(policy)  # the copy runs only once its grants exist


def _role_of(stack: Stack) -> iam.Role:
    role = stack.node.find_child(f"{COPY_FUNCTION_ID}Role")
    assert isinstance(role, iam.Role)
    return role


def copy_function(stack: Stack, removal_policy: RemovalPolicy) -> CfnResource:
    """The stack's one code-copy function, its role and its log group (made by the first bundle).

    Plain CloudFormation resources (inline code, no asset): they synthesize with a fraction of the CDK
    calls an L2 function makes, which every synth of every stage would pay. The function and its log
    group are generic ``CfnResource``s: loading the typed ``aws_lambda`` and ``aws_logs`` modules costs
    about 0.2 s and 35 ms (Python and Node sides) on every synth, for two resources whose properties are
    fixed here. cfn-lint and checkov read them in the template; cdk-nag's one Lambda rule (L1, the newest
    runtime) is held by a test instead, and ``mirror_tags`` gives them the tags ``Tags.of`` gives the role.
    """
    existing = stack.node.try_find_child(COPY_FUNCTION_ID)
    if isinstance(existing, CfnResource) and existing.cfn_resource_type == FUNCTION_TYPE:
        return existing
    source = HANDLER_SOURCE.read_text(encoding="utf-8")
    assert len(source) <= INLINE_CODE_LIMIT, f"{HANDLER_SOURCE} is over Lambda's inline code limit"
    # The role first: the tag mirror reads its tags, and without aspect stabilization aspects run in
    # tree order.
    role = iam.Role(
        stack,
        f"{COPY_FUNCTION_ID}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Copies each training code bundle into its stage's artifacts bucket at deploy time",
    )
    log_group = CfnResource(
        stack, f"{COPY_FUNCTION_ID}Logs", type="AWS::Logs::LogGroup", properties={"RetentionInDays": 365}
    )
    log_group.apply_removal_policy(removal_policy)
    streams = f"arn:{partition()}:logs:{region()}:{account_id()}:log-group:{log_group.ref}:log-stream:*"
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[streams]
        )
    )
    function = CfnResource(
        stack,
        COPY_FUNCTION_ID,
        type=FUNCTION_TYPE,
        properties={
            "Code": {"ZipFile": source},
            "Description": "Copies the training code bundle of each deploy into the stage's bucket (keeps old ones)",
            "Handler": "index.handler",
            "LoggingConfig": {"LogGroup": log_group.ref},
            "MemorySize": 256,
            "Role": role.role_arn,
            "Runtime": COPY_RUNTIME,
            "Timeout": 120,
        },
    )
    # It must not run before its role may write its logs; the Role GetAtt already orders the role itself.
    policy = role.node.find_child("DefaultPolicy").node.default_child
    assert isinstance(policy, CfnResource)
    function.add_dependency(policy)
    role_resource = role.node.default_child
    assert isinstance(role_resource, CfnResource)
    mirror_tags(role_resource, function, log_group)  # the role's tags: what an app tags its stack with
    _acknowledge(stack, function, role, streams, log_group)
    return function


def _acknowledge(stack: Stack, function: CfnResource, role: iam.Role, streams: str, log_group: CfnResource) -> None:
    for check_id, reason in HANDLER_SKIPS.items():
        acknowledge_checkov(function, check_id, reason)
    acknowledge_checkov(
        log_group,
        "CKV_AWS_158",
        "The copy function logs only the outcome of its CopyObject calls: no training data or secrets reach "
        "this log group.",
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
