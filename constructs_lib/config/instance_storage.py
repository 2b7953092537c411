"""Which SageMaker instance families train on local NVMe instance storage, and which on an EBS volume.

It decides two keys of a training job's ``ResourceConfig`` ("ResourceConfig", SageMaker API Reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html):

* ``VolumeKmsKeyId``: "Certain Nitro-based instances include local storage, dependent on the instance
  type. Local storage volumes are encrypted using a hardware module on the instance. You can't request a
  VolumeKmsKeyId when using an instance type with local storage. For a list of instance types that
  support local instance storage, see Instance Store Volumes."
* ``VolumeSizeInGB``: "When using an ML instance with NVMe SSD volumes, SageMaker doesn't provision
  Amazon EBS General Purpose SSD (gp2) storage. Available storage is fixed to the NVMe-type instance's
  storage capacity. [...] ML instance families with the NVMe-type instance storage include ml.p4d,
  ml.g4dn, and ml.g5. When using an ML instance with the EBS-only storage option and without instance
  storage, you must define the size of EBS volume through VolumeSizeInGB [...] ML instance families that
  use EBS volumes include ml.c5 and ml.p2."

The lists are explicit, not a rule on the name: the SageMaker SDK's rule (a ``d`` in the family, or
g5/g6/p5/trn1) misses ``p6-b200``, ``p6-b300``, ``trn2``, ``g7`` and ``g7e``, which have NVMe instance
store, and would send a volume key that CreateTrainingJob refuses. Each family's storage is the
``InstanceStorageSupported`` of EC2's DescribeInstanceTypes, the data behind the "Instance store
volumes" pages the API reference links:
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/InstanceStorage.html#instance-store-volumes
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ssd-instance-store.html#nvme-ssd-volumes
``tests/unit/test_instance_storage.py`` checks every family against a recorded copy of that response.
``ml.p2`` and ``ml.p3`` are EBS only (p2: the API reference above; p3: "EBS only" in the EC2
accelerated computing specifications). ``ml.p6e-gb200`` is left out on purpose: no source at hand
states its instance store, so it is refused until one is added.
"""

from __future__ import annotations

import re

LOCAL_NVME_FAMILIES = frozenset(
    {
        # accelerated computing (GPU, Trainium)
        "g4dn",
        "g5",
        "g6",
        "g6e",
        "g7",
        "g7e",
        "p3dn",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "p5en",
        "p6-b200",
        "p6-b300",
        "trn1",
        "trn1n",
        "trn2",
        # the "d" families (instance store variants of general purpose, compute and memory families)
        "c5d",
        "c6gd",
        "c6id",
        "m5d",
        "m6gd",
        "m6id",
        "r5d",
        "r6gd",
        "r6id",
        "r7gd",
    }
)
"""Families whose instances train on local NVMe SSD: no ``VolumeKmsKeyId``, no ``VolumeSizeInGB``."""

EBS_ONLY_FAMILIES = frozenset(
    {
        "c4",
        "c5",
        "c5n",
        "c6i",
        "c7i",
        "c7i-flex",
        "c8i",
        "c8i-flex",
        "m4",
        "m5",
        "m6i",
        "m7i",
        "m7i-flex",
        "m8i",
        "m8i-flex",
        "p2",
        "p3",
        "r5",
        "r6i",
        "r7i",
        "r8i",
        "r8i-flex",
        "t3",
    }
)
"""Families without instance store: SageMaker provisions an EBS volume of ``VolumeSizeInGB``."""

_INSTANCE_TYPE = re.compile(r"^ml\.(?P<family>[a-z0-9][a-z0-9\-]*)\.(?P<size>[a-z0-9\-]+)$")


class UnknownInstanceFamilyError(ValueError):
    """An instance type whose family is in neither list, so whether it takes a volume key is unknown."""

    def __init__(self, instance_type: str, family: str | None) -> None:
        known = ", ".join(sorted(LOCAL_NVME_FAMILIES | EBS_ONLY_FAMILIES))
        if family is None:
            detail = f"{instance_type!r} is not an ml.<family>.<size> instance type (e.g. ml.m5.xlarge)"
        else:
            detail = (
                f"the storage of instance family {family} ({instance_type}) is not known: whether it trains on "
                "local NVMe storage (no volume key or size) or on an EBS volume decides the training job's "
                "ResourceConfig; add the family to constructs_lib/config/instance_storage.py, with the EC2 "
                "instance store documentation as its source, or pick a known family"
            )
        super().__init__(f"{detail}; known families: {known}")
        self.instance_type = instance_type
        self.family = family


def instance_family(instance_type: str) -> str:
    """``ml.p6-b200.48xlarge`` -> ``p6-b200``.

    Raises:
        UnknownInstanceFamilyError: when ``instance_type`` is not ``ml.<family>.<size>``.
    """
    match = _INSTANCE_TYPE.match(instance_type)
    if match is None:
        raise UnknownInstanceFamilyError(instance_type, None)
    return match["family"]


def has_local_instance_storage(instance_type: str) -> bool:
    """Whether SageMaker trains on ``instance_type``'s local NVMe storage instead of an EBS volume.

    Raises:
        UnknownInstanceFamilyError: for a family in neither list (never guessed: a wrong guess either
            sends a volume key that CreateTrainingJob refuses, or leaves an EBS volume without the stage's key).
    """
    family = instance_family(instance_type)
    if family in LOCAL_NVME_FAMILIES:
        return True
    if family in EBS_ONLY_FAMILIES:
        return False
    raise UnknownInstanceFamilyError(instance_type, family)
