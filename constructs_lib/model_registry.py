"""``ModelRegistry``: the L3 construct for a stage's SageMaker Model Registry group.

Every model that passes the pipeline's quality gate becomes a numbered version in this
``AWS::SageMaker::ModelPackageGroup``, with its approval status, its quality figures and the
inference image it serves in; endpoints deploy a version, never a training job's output path.
Registration rights are granted next to it (``constructs_lib/grants/registry.py``).

Defaults:
    * a description built from the stage name only (``default_description``);
    * tag ``Pipeline`` (the stack adds ``Project`` and ``Stage``);
    * retained on stack deletion with its versions unless ``removal_policy`` is ``DESTROY``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import CfnTag, RemovalPolicy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from constructs_lib.config.registry_config import MODEL_PACKAGE_GROUP_PATTERN
from constructs_lib.config.stage_config import default_pipeline_name
from constructs_lib.grants.trust import sagemaker_arn

MAX_DESCRIPTION_LENGTH = 1024


def default_description(stage_name: str) -> str:
    """The group's description: from the stage name only, never from a setting that can be renamed.

    ``ModelPackageGroupDescription`` is create-only (CloudFormation resource schema of
    ``AWS::SageMaker::ModelPackageGroup``) and the group has a fixed name, so CloudFormation cannot
    replace it: a description holding the pipeline's name failed the update that renamed the
    pipeline. The text is the one earlier releases wrote for a stage with the default pipeline name,
    so groups created by them keep theirs and are not replaced either; the stage name is part of the
    group's identity (its default name), so it may appear.
    """
    return (
        f"PyTorch binary classifiers that passed the quality gate of pipeline {default_pipeline_name(stage_name)} "
        f"(stage {stage_name})"
    )


class ModelRegistry(Construct):
    """A model package group whose versions the stage's pipeline registers.

    Attributes:
        group: the ``AWS::SageMaker::ModelPackageGroup`` resource.
        group_name: its name (known at synth, so the definition can name it).
        group_arn: its ARN, built as SageMaker writes it (resource name in lowercase).
        model_package_arns: ARN pattern of every version in the group, ``model-package/<group>/*``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        stage_name: str,
        pipeline_name: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        description: str | None = None,
    ) -> None:
        """Args:
        group_name: the group's name (CreateModelPackageGroup's pattern, at most 63 characters).
        stage_name: the stage it belongs to (its default description).
        pipeline_name: the pipeline that registers into it (its ``Pipeline`` tag, which an update may change).
        removal_policy: what stack deletion does to the group; default RETAIN.
        description: shown in SageMaker Studio and DescribeModelPackageGroup, at most 1024 characters;
            create-only, so it must not hold anything that can be renamed. Default ``default_description``.
        """
        super().__init__(scope, construct_id)
        description = description or default_description(stage_name)
        self._validate(group_name, description)
        self.group_name = group_name
        # Project and Stage come from the stack's Tags.of; a lowercase "stage" next to them would be a second
        # cost-allocation key, and IAM compares aws:ResourceTag keys case-insensitively.
        tags: Mapping[str, str] = {"Pipeline": pipeline_name}
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=group_name,
            model_package_group_description=description,
            tags=[CfnTag(key=key, value=value) for key, value in sorted(tags.items())],
        )
        self.group.apply_removal_policy(removal_policy)
        # IAM matches ARNs case-sensitively, and SageMaker writes resource names in ARNs in lowercase.
        self.group_arn = sagemaker_arn(f"model-package-group/{group_name.lower()}")
        self.model_package_arns = sagemaker_arn(f"model-package/{group_name.lower()}/*")

    @staticmethod
    def _validate(group_name: str, description: str) -> None:
        if not re.match(MODEL_PACKAGE_GROUP_PATTERN, group_name):
            raise ValueError(f"group_name {group_name!r} must match {MODEL_PACKAGE_GROUP_PATTERN}")
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise ValueError(f"description has {len(description)} characters; at most {MAX_DESCRIPTION_LENGTH}")
