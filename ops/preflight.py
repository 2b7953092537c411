"""Checks that run before anything is deployed or started, so a mistake costs seconds, not a failed job.

* ``check_credentials`` (before ``cdk deploy``/``bootstrap``): STS GetCallerIdentity, and the
  account a stage pins in ``cdk.json``. Without it CDK says "Unable to resolve AWS account to use",
  which sends operators to their stack code.
* ``check_channels`` (before a pipeline run): every S3 channel the deployed pipeline declares must
  hold data, because SageMaker rejects the training job at start otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from ops.aws import CREDENTIALS_HELP, OperatorError, StageAws
from ops.definition import Channel, split_s3_uri

DATA_SUFFIX = ".parquet"
"""The trainer reads ``.parquet`` files at any depth of a channel (README, "The trainer")."""
LIST_PAGE_SIZE = 1000


def check_credentials(aws: StageAws) -> str:
    """One line naming the identity and account in use.

    Raises:
        OperatorError: when there are no usable credentials, or they are for another account than
            the one the stage pins in ``cdk.json``.
    """
    identity = aws.caller_identity()
    stage = aws.stage
    if stage.account and identity["Account"] != stage.account:
        raise OperatorError(
            f"the AWS credentials in use are for account {identity['Account']} ({identity['Arn']}), but cdk.json "
            f"pins stage {stage.name} to account {stage.account}: {CREDENTIALS_HELP} for account {stage.account}"
        )
    return f"AWS credentials: {identity['Arn']} (account {identity['Account']}); stage {stage.name} in {stage.region}"


def check_channels(aws: StageAws, channels: Iterable[Channel]) -> list[str]:
    """One line per channel that holds data.

    SageMaker treats an ``S3Prefix`` channel's ``S3Uri`` as a key prefix and "uses all objects that
    match the specified key name prefix" ("S3DataSource", SageMaker API Reference,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html). When none
    matches, CreateTrainingJob fails with ValidationException 'No S3 objects found under S3 URL
    "s3://..." given in input data source', after the pipeline has started; this check lists the
    same prefix first. A ``ManifestFile`` channel's URI names one object, which must exist.

    Raises:
        OperatorError: naming the first channel without data, and its URI.
    """
    lines = []
    for channel in channels:
        where = f"step {channel.step}, channel {channel.name}"
        bucket, key = split_s3_uri(channel.uri, where)
        keys, truncated = _first_keys(aws, bucket, key)
        if channel.data_type != "S3Prefix":
            if key not in keys:
                raise OperatorError(f"{where}: {channel.uri} does not exist; the run was not started")
        elif not keys:
            raise OperatorError(
                f"{where}: no objects under {channel.uri}; upload data there (make upload-data STAGE="
                f"{aws.stage.name} FROM=<dir>) or pass another InputDataUri; the run was not started"
            )
        elif not truncated and not any(k.endswith(DATA_SUFFIX) for k in keys):
            raise OperatorError(
                f"{where}: {len(keys)} object(s) under {channel.uri} but no {DATA_SUFFIX} file, which the trainer "
                "reads; the run was not started"
            )
        lines.append(f"channel {channel.name}: data found under {channel.uri}")
    return lines


def _first_keys(aws: StageAws, bucket: str, prefix: str) -> tuple[list[str], bool]:
    """Up to one page of object keys under ``prefix``, without folder markers (``name/``, no data)."""
    response = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=LIST_PAGE_SIZE)
    keys = [item["Key"] for item in response.get("Contents", []) if not item["Key"].endswith("/")]
    return keys, bool(response.get("IsTruncated"))
