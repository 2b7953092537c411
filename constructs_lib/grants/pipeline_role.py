"""The pipeline role's grants: what SageMaker Pipelines calls to run the training step.

SageMaker Pipelines assumes this role to start, watch and stop the training jobs of an
execution and to pass them the training role. It holds no S3 and no KMS permission:

* the training job itself reads and writes S3 under the training role;
* ``kms:CreateGrant`` for the volume key is needed by the caller of CreateTrainingJob "only if the
  associated ResourceConfig has a specified VolumeKmsKeyId and the associated role does not have a
  policy that permits this action" (SageMaker guide, "Amazon SageMaker AI API Permissions: Actions,
  Permissions, and Resources Reference", https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html);
  the training role has it whenever the definition carries a volume key;
* ``kms:DescribeKey`` is dropped: no call of the pipeline role needs it, and the statement that held
  it was conditioned on ``kms:GrantIsForAWSResource``, a key that only the grant operations carry,
  so it could never allow anything.

Registration grants (``sagemaker:CreateModelPackage``) live in ``constructs_lib/grants/registry.py``.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs_lib.compliance import NagAcknowledgement, acknowledge_nag
from constructs_lib.grants.trust import PIPELINE_JOB_PREFIX, SAGEMAKER_PRINCIPAL, sagemaker_arn

TRAINING_JOB_ACTIONS = (
    "sagemaker:AddTags",
    "sagemaker:CreateTrainingJob",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopTrainingJob",
)
"""Start, watch and stop a training step's job; AddTags because Pipelines tags the jobs it creates."""


def grant_pipeline_role(role: iam.Role, *, training_role: iam.IRole) -> None:
    """Let ``role`` run the pipeline's training jobs (``pipelines-*``) under ``training_role``."""
    training_jobs = sagemaker_arn(f"training-job/{PIPELINE_JOB_PREFIX}*")
    role.add_to_policy(
        iam.PolicyStatement(sid="RunTrainingJobs", actions=list(TRAINING_JOB_ACTIONS), resources=[training_jobs])
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PassTrainingRole",
            actions=["iam:PassRole"],
            resources=[training_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SAGEMAKER_PRINCIPAL}},
        )
    )
    acknowledge_nag(
        role.node.find_child("DefaultPolicy"),
        NagAcknowledgement(
            "AwsSolutions-IAM5",
            f"SageMaker Pipelines names its training jobs {PIPELINE_JOB_PREFIX}<execution>-<step>-<suffix> at run "
            f"time, so the pipeline role is scoped to training-job/{PIPELINE_JOB_PREFIX}* of this account and "
            "region.",
            (
                "Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                f"training-job/{PIPELINE_JOB_PREFIX}*",
            ),
        ),
    )
