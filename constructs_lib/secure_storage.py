"""``SecureTrainingStorage``: the stage's KMS key and its three buckets (two, with an imported data bucket).

Defaults (each can be changed only through ``StorageSettings``):

* one customer-managed KMS key, rotated yearly, encrypting the data and artifacts
  buckets (SSE-KMS with S3 bucket keys);
* a log bucket (SSE-S3, as S3 server access logging requires) receiving the access
  logs of the other two, expiring after ``access_log_expiration_days``;
* every bucket blocks all public access, denies non-TLS requests, is versioned, and
  expires noncurrent versions after ``noncurrent_version_expiration_days``;
* the artifacts bucket expires checkpoints under ``<output prefix>/checkpoints/`` after
  ``checkpoint_expiration_days``;
* RETAIN on stack deletion unless ``removal_policy`` is ``destroy``;
* an imported data bucket (``data_bucket``) is used as it is: nothing about it is created or
  changed, and its key (``data_key``), if it has one, is only read through S3.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.compliance import acknowledge_checkov
from constructs_lib.config.stage_config import StorageSettings

OUTPUT_PREFIX = "training-output"
"""Artifacts-bucket prefix for model artifacts, profiler output and checkpoints."""
CHECKPOINT_PREFIX = f"{OUTPUT_PREFIX}/checkpoints/"
AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
AUTO_DELETE_HANDLER_SKIPS = {
    "CKV_AWS_115": "CDK's auto-delete handler runs only when CloudFormation deletes a bucket of this throwaway "
    "stage; reserving concurrency for it would only take capacity from the account's unreserved pool.",
    "CKV_AWS_116": "CloudFormation invokes the auto-delete handler synchronously and receives its failure as the "
    "custom resource response; a dead-letter queue only applies to asynchronous invocations.",
    "CKV_AWS_117": "The auto-delete handler only calls the S3 API on this stack's buckets and holds no data; a VPC "
    "would need a NAT gateway or S3 endpoint for no isolation gain. CDK creates it outside any VPC.",
}
"""checkov findings on CDK's auto-delete handler, which the CDK does not let us configure."""


class SecureTrainingStorage(Construct):
    """KMS key plus data, artifacts and access-log buckets with secure defaults.

    Attributes:
        key: the customer-managed key for data, artifacts and training output.
        log_bucket: receives S3 server access logs.
        data_bucket: training data (``<input_prefix>/<channel>/``): the stage's own, or the imported one.
        data_key: the key that encrypts ``data_bucket``: ``key`` for the stage's own bucket, the imported
            bucket's key, or None for an imported bucket without a customer-managed key.
        artifacts_bucket: models, checkpoints and profiler output under ``training-output/``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StorageSettings,
        stage_name: str,
        data_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
    ) -> None:
        """Args:
        settings: retention and lifecycle of what is created here.
        stage_name: names the stage in the key's description.
        data_bucket: an existing bucket to read training data from; default a new one.
        data_key: the KMS key ``data_bucket`` is encrypted with, when it has a customer-managed one.
        """
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.DESTROY if settings.removal_policy == "destroy" else RemovalPolicy.RETAIN
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts training data, artifacts and jobs of stage {stage_name}",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(30) if removal is RemovalPolicy.RETAIN else Duration.days(7),
        )
        noncurrent = [
            s3.LifecycleRule(
                id="ExpireNoncurrentVersions",
                noncurrent_version_expiration=Duration.days(settings.noncurrent_version_expiration_days),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ]
        self.log_bucket = self._bucket(
            "LogBucket",
            removal,
            encryption=s3.BucketEncryption.S3_MANAGED,
            lifecycle_rules=[
                *noncurrent,
                s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(settings.access_log_expiration_days)),
            ],
        )
        # cdk-nag's S1 passes on its own: it recognises the bucket as the others' log destination.
        acknowledge_checkov(
            self.log_bucket,
            "CKV_AWS_18",
            "This is the S3 server access log destination of the data and artifacts buckets; logging it "
            "into itself would log its own log deliveries without end.",
        )
        self.data_bucket: s3.IBucket = data_bucket or self._bucket(
            "DataBucket", removal, log_prefix="data-bucket/", lifecycle_rules=noncurrent
        )
        self.data_key: kms.IKey | None = data_key if data_bucket is not None else self.key
        self.artifacts_bucket = self._bucket(
            "ArtifactsBucket",
            removal,
            log_prefix="artifacts-bucket/",
            lifecycle_rules=[
                *noncurrent,
                s3.LifecycleRule(
                    id="ExpireCheckpoints",
                    prefix=CHECKPOINT_PREFIX,
                    expiration=Duration.days(settings.checkpoint_expiration_days),
                ),
            ],
        )

        if removal is RemovalPolicy.DESTROY:
            self._harden_auto_delete_provider()

    def _harden_auto_delete_provider(self) -> None:
        """Tidy and acknowledge CDK's auto-delete custom-resource Lambda (``destroy`` stages only)."""
        provider = Stack.of(self).node.try_find_child(AUTO_DELETE_PROVIDER_ID)
        handler = provider.node.try_find_child("Handler") if provider else None
        if not isinstance(handler, CfnResource):
            return
        # Its role is already ordered before it by the GetAtt of Properties.Role (cfn-lint W3005).
        handler.add_deletion_override("DependsOn")
        for check_id, reason in AUTO_DELETE_HANDLER_SKIPS.items():
            acknowledge_checkov(handler, check_id, reason)

    def _bucket(
        self,
        construct_id: str,
        removal: RemovalPolicy,
        *,
        lifecycle_rules: list[s3.LifecycleRule],
        encryption: s3.BucketEncryption = s3.BucketEncryption.KMS,
        log_prefix: str | None = None,
    ) -> s3.Bucket:
        kms_encrypted = encryption is s3.BucketEncryption.KMS
        return s3.Bucket(
            self,
            construct_id,
            encryption=encryption,
            encryption_key=self.key if kms_encrypted else None,
            bucket_key_enabled=kms_encrypted or None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket if log_prefix else None,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=lifecycle_rules,
            removal_policy=removal,
            auto_delete_objects=removal is RemovalPolicy.DESTROY,
        )
