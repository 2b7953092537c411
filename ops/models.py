"""``make models``, ``make approve`` and ``make reject``: the stage's model package group.

Each successful run registers a version (the pipeline's RegisterModel step), PendingManualApproval
unless the run passed another ``ModelApprovalStatus``. Operators see every version with its status,
quality figures and creation time, and approve or reject one by its version number, with a reason
that SageMaker keeps as the version's ``ApprovalDescription``. The quality figures are read as they
are stored (``CustomerMetadataProperties`` and ``ModelMetrics`` report locations), so whatever
the definition records is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from ops.aws import OperatorError, StageAws, error_message, one_line
from ops.stages import make_hint

GROUP_OUTPUT = "ModelPackageGroupName"
MAX_REASON_LENGTH = 1024
"""UpdateModelPackage ``ApprovalDescription``: at most 1024 characters
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateModelPackage.html)."""
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class ModelVersion:
    """One version of the group, as ``make models`` shows it."""

    version: int
    arn: str
    status: str
    created: datetime
    figures: dict[str, str]
    description: str


def quality_figures(package: dict[str, Any]) -> dict[str, str]:
    """``CustomerMetadataProperties`` as they are, plus the S3 location of each ``ModelMetrics`` report."""
    figures = dict(package.get("CustomerMetadataProperties") or {})
    for area, reports in (package.get("ModelMetrics") or {}).items():
        for kind, report in (reports or {}).items():
            if isinstance(report, dict) and report.get("S3Uri"):
                figures[f"{area}.{kind}"] = report["S3Uri"]
    return figures


def version_summaries(aws: StageAws) -> list[dict[str, Any]]:
    """ListModelPackages of the stage's group, newest first.

    Raises:
        OperatorError: when the group does not exist.
    """
    sagemaker, group = aws.client("sagemaker"), aws.output(GROUP_OUTPUT)
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as error:
        if "does not exist" in error_message(error):
            raise OperatorError(
                f"model package group {group} (stack output {GROUP_OUTPUT}) does not exist in {aws.stage.region}: "
                f"run {make_hint('deploy', aws.stage)}"
            ) from None
        raise
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"
    )
    return [summary for page in pages for summary in page["ModelPackageSummaryList"]]


def describe_version(aws: StageAws, arn: str) -> ModelVersion:
    """DescribeModelPackage of one version."""
    package = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
    return ModelVersion(
        version=int(package["ModelPackageVersion"]),
        arn=package["ModelPackageArn"],
        status=package["ModelApprovalStatus"],
        created=package["CreationTime"],
        figures=quality_figures(package),
        description=one_line(package.get("ApprovalDescription") or ""),
    )


def format_version(version: ModelVersion) -> str:
    """One line: version, approval status, creation time (UTC), figures, and the approval reason."""
    figures = ", ".join(f"{name}={value}" for name, value in sorted(version.figures.items())) or "-"
    created = version.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    reason = f'  "{version.description}"' if version.description else ""
    return f"{version.version:>7}  {version.status:<21}  {created}  {figures}{reason}"


def show_models(aws: StageAws, out: TextIO, limit: int = DEFAULT_LIMIT) -> int:
    """Print the newest ``limit`` versions (0: all)."""
    summaries = version_summaries(aws)
    group = aws.output(GROUP_OUTPUT)
    if not summaries:
        start = make_hint("start-pipeline", aws.stage)
        print(
            f"model package group {group} has no versions yet: a run that passes the quality gate "
            f"registers one ({start})",
            file=out,
        )
        return 0
    shown = summaries if limit == 0 else summaries[:limit]
    print(f"model package group {group} ({len(summaries)} versions)", file=out)
    print(f"{'VERSION':>7}  {'STATUS':<21}  {'CREATED':<20}  QUALITY", file=out)
    for summary in shown:
        print(format_version(describe_version(aws, summary["ModelPackageArn"])), file=out)
    if len(shown) < len(summaries):
        print(f"(the newest {len(shown)} of {len(summaries)}; LIMIT=0 shows all)", file=out)
    return 0


def resolve_version(aws: StageAws, version: int) -> str:
    """The ARN of ``version`` in the stage's group.

    Raises:
        OperatorError: listing the valid versions when it is not there.
    """
    arns = {int(s["ModelPackageVersion"]): s["ModelPackageArn"] for s in version_summaries(aws)}
    if version not in arns:
        valid = ", ".join(str(v) for v in sorted(arns)) or "none yet"
        raise OperatorError(
            f"VERSION={version} is not in model package group {aws.output(GROUP_OUTPUT)}; valid: {valid}"
        )
    return str(arns[version])


def set_approval(aws: StageAws, version: int, status: str, reason: str, out: TextIO) -> int:
    """UpdateModelPackage: set ``ModelApprovalStatus`` (``Approved``/``Rejected``) with the reason."""
    reason = reason.strip()
    if status == "Rejected" and not reason:
        hint = make_hint("reject", aws.stage, f"VERSION={version} REASON='...'")
        raise OperatorError(f"a rejection needs a reason, which SageMaker keeps with the version: {hint}")
    if len(reason) > MAX_REASON_LENGTH:
        raise OperatorError(f"REASON: at most {MAX_REASON_LENGTH} characters (got {len(reason)})")
    before = describe_version(aws, resolve_version(aws, version))
    request = {"ModelPackageArn": before.arn, "ModelApprovalStatus": status}
    if reason:
        request["ApprovalDescription"] = reason
    aws.client("sagemaker").update_model_package(**request)
    because = f': "{reason}"' if reason else ""
    print(f"{aws.output(GROUP_OUTPUT)} version {version}: {before.status} -> {status}{because}", file=out)
    return 0
