"""The calls of a ``RegisterModel`` step: Pipelines registers a version as the pipeline role, then reads it back.

Which calls, from AWS's documentation:

* CreateModelPackage needs ``sagemaker:CreateModelPackage`` and nothing else: the SageMaker guide's
  "API Permissions Reference" lists for it only that action on ``model-package/modelPackageName``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html), where CreateModel
  adds ``iam:PassRole`` (the role that later reads the model) and CreateTrainingJob adds
  ``iam:PassRole`` and ``kms:CreateGrant``. The request has no role to read with, and the version
  only records ``ModelDataUrl`` ("The Amazon S3 path where the model artifacts ... are stored") and
  ``Image`` ("The Amazon ECR path where inference code is stored"; API Reference,
  ModelPackageContainerDefinition): whoever deploys the version reads them, under the execution role
  passed to CreateModel. So registration has no S3, KMS or ECR row.
* The Service Authorization Reference lists ``model-package-group`` and ``model-package`` for
  CreateModelPackage, with ``sagemaker:ModelApprovalStatus`` and
  ``sagemaker:CustomerMetadataProperties/${MetadataKey}``; a key the request does not carry is
  absent, so a status condition then fails (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html).
* "If you supply ModelPackageGroupName ... you cannot supply a tag argument" (API Reference,
  CreateModelPackage, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html):
  no AddTags row, and a ``Tags`` argument is unmodelled.
* The pipeline role needs "Create and Describe permissions for each of the job types in the pipeline"
  (SageMaker guide, "IAM Access Management", build-and-manage-access.html): the step's properties are
  the DescribeModelPackage response of the new version.
"""

from __future__ import annotations

from typing import Any

from tests.security.execution_model import Call, Execution, UnmodelledError, s3_location

REGISTRY_GUIDE = (
    "SageMaker guide, API Permissions Reference (CreateModelPackage: sagemaker:CreateModelPackage only), "
    "https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html; Service Authorization "
    "Reference, Amazon SageMaker (model-package, model-package-group, sagemaker:ModelApprovalStatus), "
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html"
)
DESCRIBE_GUIDE = (
    "SageMaker guide, IAM Access Management (Create and Describe permissions for each job type), "
    "https://docs.aws.amazon.com/sagemaker/latest/dg/build-and-manage-access.html"
)
REGISTER_ARGUMENTS = {
    "ModelPackageGroupName", "ModelApprovalStatus", "InferenceSpecification", "CustomerMetadataProperties",
    "ModelPackageDescription", "MetadataProperties", "SkipModelValidation", "Domain", "Task",
}  # fmt: skip
"""CreateModelPackage arguments whose only effect is what the version records (no call of their own)."""
CONTAINER_KEYS = {"Image", "ModelDataUrl", "Environment"}
"""Container fields the version records; a field that makes SageMaker fetch something needs rows first."""
FIRST_VERSION = 1


def register_model_rows(step: dict[str, Any], ex: Execution) -> list[Call]:
    """CreateModelPackage on the group and on the new version, with the request's keys; then DescribeModelPackage."""
    arguments = step["Arguments"]
    unknown = sorted(set(arguments) - REGISTER_ARGUMENTS)
    if unknown:
        raise UnmodelledError(f"step {step['Name']}: RegisterModel arguments {unknown} have no rows in {__name__}")
    request = ex.resolve(arguments)
    _check_containers(step["Name"], request.get("InferenceSpecification", {}).get("Containers", []))
    group = ex.arn_name(str(request["ModelPackageGroupName"]).rsplit("model-package-group/", 1)[-1])
    context = {
        f"sagemaker:CustomerMetadataProperties/{key}": str(value)
        for key, value in request.get("CustomerMetadataProperties", {}).items()
    }
    if "ModelApprovalStatus" in request:
        context["sagemaker:ModelApprovalStatus"] = str(request["ModelApprovalStatus"])
    caller, version = ex.stack.pipeline_role_arn, ex.arn("sagemaker", f"model-package/{group}/{FIRST_VERSION}")
    group_arn = ex.arn("sagemaker", f"model-package-group/{group}")
    name = step["Name"]
    return [
        Call(
            f"{name}: register in the group", caller, "sagemaker:CreateModelPackage", group_arn, context, REGISTRY_GUIDE
        ),
        Call(f"{name}: create the version", caller, "sagemaker:CreateModelPackage", version, context, REGISTRY_GUIDE),
        Call(f"{name}: read the version back", caller, "sagemaker:DescribeModelPackage", version, {}, DESCRIBE_GUIDE),
    ]


def _check_containers(step_name: str, containers: list[dict[str, Any]]) -> None:
    """Every container only records an image and an ``s3://`` model: nothing SageMaker reads at registration."""
    for container in containers:
        unknown = sorted(set(container) - CONTAINER_KEYS)
        if unknown:
            raise UnmodelledError(f"step {step_name}: container fields {unknown} have no rows in {__name__}")
        if "ModelDataUrl" in container:
            s3_location(str(container["ModelDataUrl"]))
