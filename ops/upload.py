"""``make upload-data`` and ``make upload-sample-data``: local parquet folders to the pipeline's channels.

``<from>/<channel>/`` holds one file or a sharded export (every ``.parquet`` below it, at any
depth); it goes to the folder that the DEPLOYED definition reads for that channel, resolved with
``InputDataUri`` = ``TO`` (default: the stage's input root). Nothing is uploaded until every file
of every declared channel has been read as parquet with rows and the label column, and until no
other object sits in a destination folder: a run trains on every object under a channel's prefix,
so a leftover shard of an older dataset would be trained on without anyone noticing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ops import definition as deployed
from ops.aws import OperatorError, StageAws
from ops.params import INPUT_URI_PARAMETER, check_input_uri, effective_values
from ops.preflight import DATA_SUFFIX
from ops.stages import input_root


@dataclass(frozen=True)
class PlannedUpload:
    """One local file and the S3 object it becomes."""

    local: Path
    bucket: str
    key: str
    rows: int


def check_from_dir(text: str, *, must_exist: bool = True) -> Path:
    """``FROM`` as a folder, checked before any AWS call (``upload-sample-data`` creates its own).

    Raises:
        OperatorError: when FROM is unset, or names no folder.
    """
    if not text.strip():
        raise OperatorError("FROM is not set: give FROM=<folder with train/, val/ (and test/) inside>")
    folder = Path(text)
    if must_exist and not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OperatorError(f"FROM={text}: {problem}; give FROM=<folder with train/, val/ (and test/) inside>")
    return folder


def destinations(aws: StageAws, to: str | None) -> dict[str, str]:
    """Channel name -> the S3 folder (ending in ``/``) the deployed pipeline reads it from."""
    definition = aws.pipeline_definition()
    declared = deployed.parameters(definition)
    given = {}
    if to:
        if INPUT_URI_PARAMETER not in declared:
            raise OperatorError(
                f"TO needs the pipeline parameter {INPUT_URI_PARAMETER}, which the deployed pipeline lacks"
            )
        given[INPUT_URI_PARAMETER] = check_input_uri(to, input_root(aws.stage, aws.output("DataBucketName")))
    folders: dict[str, str] = {}
    for channel in deployed.channels(definition, effective_values(declared, given)):
        if channel.data_type != "S3Prefix":
            raise OperatorError(f"channel {channel.name} reads a manifest ({channel.uri}); upload its data by hand")
        folders.setdefault(channel.name, channel.uri if channel.uri.endswith("/") else f"{channel.uri}/")
    if not folders:
        raise OperatorError("the deployed pipeline declares no S3 channels to upload to")
    return folders


def parquet_problem(path: Path, label_column: str) -> tuple[str | None, int]:
    """Why ``path`` cannot be trained on (None if it can), and its row count."""
    import pyarrow as pa  # type: ignore[import-untyped]  # noqa: PLC0415  # no type stubs; lazy: a dev dependency
    import pyarrow.parquet as pq  # type: ignore[import-untyped]  # noqa: PLC0415  # no type stubs; lazy: a dev dependency

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError, pa.ArrowException) as error:
        return f"{path}: not a readable parquet file ({error})", 0
    rows = int(parquet.metadata.num_rows)
    if rows == 0:
        return f"{path}: has no rows", 0
    if label_column not in parquet.schema_arrow.names:
        return f"{path}: no label column {label_column!r} (hyperparameters.label_column)", rows
    return None, rows


def plan_upload(from_dir: Path, folders: dict[str, str], label_column: str) -> list[PlannedUpload]:
    """Every file to upload, after checking all of them.

    Raises:
        OperatorError: with the first problem and how many there are; nothing is uploaded then.
    """
    if not from_dir.is_dir():
        raise OperatorError(f"{from_dir}: not a folder; give FROM=<folder with {'/, '.join(folders)}/ inside>")
    plan, problems = [], []
    for channel, folder in folders.items():
        files = sorted(p for p in (from_dir / channel).rglob(f"*{DATA_SUFFIX}") if p.is_file())
        if not files:
            problems.append(
                f"{from_dir / channel}/: no {DATA_SUFFIX} files; the deployed pipeline reads channel {channel}"
            )
        bucket, prefix = deployed.split_s3_uri(folder, f"channel {channel}")
        for path in files:
            problem, rows = parquet_problem(path, label_column)
            if problem:
                problems.append(problem)
            key = prefix + path.relative_to(from_dir / channel).as_posix()
            plan.append(PlannedUpload(path, bucket, key, rows))
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise OperatorError(f"{problems[0]}{more}; nothing was uploaded")
    return plan


def check_leftovers(aws: StageAws, plan: list[PlannedUpload], folders: dict[str, str]) -> None:
    """Refuse when a destination folder holds objects this upload would not replace."""
    planned = {(item.bucket, item.key) for item in plan}
    paginator = aws.client("s3").get_paginator("list_objects_v2")
    for channel, folder in folders.items():
        bucket, prefix = deployed.split_s3_uri(folder, f"channel {channel}")
        extra = [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if (bucket, item["Key"]) not in planned and not item["Key"].endswith("/")
        ]
        if extra:
            raise OperatorError(
                f"channel {channel}: {len(extra)} object(s) under {folder} that this upload would not replace "
                f"(e.g. s3://{bucket}/{extra[0]}); a run would train on them too: remove them, or upload to a new "
                f"folder with TO=s3://{bucket}/{aws.stage.input_prefix}/<name> and start with "
                f'PARAMS="{INPUT_URI_PARAMETER}=..."; nothing was uploaded'
            )


def upload_data(
    aws: StageAws, from_dir: Path, to: str | None, out: TextIO, prepare: Callable[[], None] | None = None
) -> int:
    """Check every file, then upload them all to the channels' folders.

    ``prepare`` runs once the deployed stack and pipeline are known (``upload-sample-data`` generates
    the sample there, so missing credentials are reported before any work).
    """
    folders = destinations(aws, to)
    if prepare is not None:
        prepare()
    plan = plan_upload(from_dir, folders, str(aws.stage.hyperparameters.get_config()["label_column"]))
    check_leftovers(aws, plan, folders)
    s3 = aws.client("s3")
    for item in plan:
        s3.upload_file(str(item.local), item.bucket, item.key)
        print(f"uploaded {item.local} ({item.rows} rows) -> s3://{item.bucket}/{item.key}", file=out)
    params = f' PARAMS="{INPUT_URI_PARAMETER}={to.rstrip("/")}"' if to else ""
    print(
        f"{len(plan)} file(s) uploaded; train on them with make start-pipeline STAGE={aws.stage.name}{params}", file=out
    )
    return 0
