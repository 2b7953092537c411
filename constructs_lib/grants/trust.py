"""Who may assume the stage's roles: SageMaker, for this account's pipeline and its training jobs only.

SageMaker guide, "Cross-service confused deputy prevention"
(https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html): it
documents ``aws:SourceArn`` for training jobs (``training-job/*``, and "the full ARN of one specific
training job to further limit permissions") and for Pipelines (``pipeline/<name>/*``, "pipeline
execution records"), and uses ``aws:SourceArn`` with ``aws:SourceAccount`` in its general example.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs_lib.pseudo_parameters import account_id, partition, region

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
PIPELINE_JOB_PREFIX = "pipelines-"
"""SageMaker Pipelines names the jobs it starts ``pipelines-<execution id>-<step>-<suffix>``."""


def sagemaker_arn(resource: str) -> str:
    """``arn:<partition>:sagemaker:<region>:<account>:<resource>`` of this stack (CDK tokens)."""
    return f"arn:{partition()}:sagemaker:{region()}:{account_id()}:{resource}"


def name_spellings(name: str) -> list[str]:
    """``name`` as written and lowercased (one entry when it is lowercase already).

    IAM compares ARNs case-sensitively, and SageMaker writes most names in ARNs in lowercase
    (training jobs, model packages, as the guide's "Run a pipeline" examples show), without
    documenting it for every resource type: a statement on a mixed-case name lists both spellings.
    """
    return list(dict.fromkeys((name, name.lower())))


def sagemaker_principal(*source_arns: str) -> iam.ServicePrincipal:
    """SageMaker, allowed to assume the role only for this account's ``source_arns`` (confused deputy)."""
    return iam.ServicePrincipal(
        SAGEMAKER_PRINCIPAL,
        conditions={
            "StringEquals": {"aws:SourceAccount": account_id()},
            "ArnLike": {"aws:SourceArn": list(source_arns)},
        },
    )


def pipeline_arns(pipeline_name: str) -> list[str]:
    """The pipeline's ARN, as the name is written and lowercased."""
    return [sagemaker_arn(f"pipeline/{name}") for name in name_spellings(pipeline_name)]


def pipeline_source_arns(pipeline_name: str) -> list[str]:
    """Source ARNs of the pipeline and its executions, each as the name is written and lowercased.

    The guide's Pipelines example matches ``pipeline/<name>/*`` (an execution) but does not say which
    ARN SageMaker sends, so the bare ``pipeline/<name>`` is allowed too. A trust condition that is
    never met locks the role out on the first run; these stay within this one pipeline of this
    account and region.
    """
    return [f"{arn}{suffix}" for arn in pipeline_arns(pipeline_name) for suffix in ("", "/*")]


def training_job_source_arn() -> str:
    """Source ARN of every training job the pipelines of this account and region start."""
    return sagemaker_arn(f"training-job/{PIPELINE_JOB_PREFIX}*")
