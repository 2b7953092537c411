"""PROVISIONAL: which SageMaker instance families have local NVMe instance storage.

This is a minimal stand-in written on the automation branch so that its constructs build against the
agreed API; another engineer owns the real module (issue 12's family list), and the lead replaces this
file with it at merge. Only the API below is relied on:

* ``has_local_instance_storage(instance_type: str) -> bool``
* ``UnknownInstanceFamilyError(ValueError)`` for a family the list does not know.

Why it matters: CreateEndpointConfig's ``KmsKeyId`` (and a training job's ``VolumeKmsKeyId``) cannot be
requested on instances with local storage: "Local storage volumes are encrypted using a hardware module
on the instance. You can't request a KmsKeyId when using an instance type with local storage ... If you
specify a value for KmsKeyId when using any nitro-based instances with local storage, the call to
CreateEndpointConfig fails" (SageMaker API Reference, CreateEndpointConfig,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html).
"""

from __future__ import annotations

import re

LOCAL_STORAGE_FAMILIES = frozenset(
    {"c5d", "c6id", "m5d", "m6id", "r5d", "r6id", "g4ad", "g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5"}
    | {"p5e", "trn1", "trn1n"}
)
"""Families that run on NVMe instance storage (no EBS volume, so no volume key)."""
EBS_FAMILIES = frozenset(
    {"t2", "t3", "m4", "m5", "m6i", "m7i", "c4", "c5", "c6i", "c7i", "r5", "r6i", "r7i", "p2", "p3", "inf1", "inf2"}
)
"""Families whose instances use an EBS volume."""
INSTANCE_TYPE = re.compile(r"^ml\.(?P<family>[a-z0-9\-]+)\.[a-z0-9]+$")


class UnknownInstanceFamilyError(ValueError):
    """The family of an instance type is on neither list: whether it has local storage is unknown."""


def has_local_instance_storage(instance_type: str) -> bool:
    """Whether ``instance_type`` (``ml.<family>.<size>``) has local NVMe instance storage.

    Raises:
        UnknownInstanceFamilyError: when the type is malformed or its family is on neither list.
    """
    match = INSTANCE_TYPE.match(instance_type)
    family = match["family"] if match else None
    if family in LOCAL_STORAGE_FAMILIES:
        return True
    if family in EBS_FAMILIES:
        return False
    known = ", ".join(sorted(LOCAL_STORAGE_FAMILIES | EBS_FAMILIES))
    raise UnknownInstanceFamilyError(
        f"{instance_type!r}: instance family {family!r} is not known to have or lack local NVMe storage; "
        f"known families: {known}"
    )
