"""Checks that need the region: it hosts the training and inference images the settings name.

A stage names its region in ``cdk.json``; the construct reads it from its stack. Both run these
checks, so a version the region lacks, or an image in another region's ECR, fails at synth.
"""

from __future__ import annotations

from constructs_lib.config.errors import FieldError
from constructs_lib.config.image_catalog import parse_ecr_image_uri, pytorch_inference_images, pytorch_training_images
from constructs_lib.config.model_config import ModelSettings
from constructs_lib.config.registry_config import RegistrySettings


def region_and_image_problem(model: ModelSettings, registry: RegistrySettings, region: str) -> FieldError | None:
    """The first problem with ``region`` or the images the settings name there (None: none).

    The field is relative to the stage (or the construct's props): ``region``, ``model.py_version`` ...
    """
    regions = pytorch_training_images().all_regions
    if region not in regions:
        return FieldError(
            "region",
            f"{region!r} is not a known AWS region with SageMaker PyTorch training images; "
            f"valid: {', '.join(sorted(regions))}",
        )
    return _training_image_problem(model, region) or _inference_image_problem(registry, region)


def _ecr_region_problem(uri: str, region: str, field: str) -> FieldError | None:
    image = parse_ecr_image_uri(uri)
    if image is not None and image.region != region:
        return FieldError(field, f"{uri!r} is in {image.region}; use a copy in ECR in {region}, the stage's region")
    return None


def _training_image_problem(model: ModelSettings, region: str) -> FieldError | None:
    if model.image_uri is None:
        found = pytorch_training_images().version_problem(model.framework_version, model.py_version, region)
        return FieldError(f"model.{found[0]}", found[1]) if found else None
    image = parse_ecr_image_uri(model.image_uri)
    if image is not None and image.py_version not in (None, model.py_version):
        return FieldError(
            "model.py_version",
            f"{model.py_version!r} differs from the Python of model.image_uri ({image.py_version}); "
            f"set py_version to {image.py_version!r}",
        )
    return _ecr_region_problem(model.image_uri, region, "model.image_uri")


def _inference_image_problem(registry: RegistrySettings, region: str) -> FieldError | None:
    if registry.inference_image_uri is not None:
        return _ecr_region_problem(registry.inference_image_uri, region, "registry.inference_image_uri")
    found = pytorch_inference_images().version_problem(
        registry.inference_framework_version, registry.inference_py_version, region
    )
    return FieldError(f"registry.inference_{found[0]}", found[1]) if found else None
