"""Acknowledged findings of cdk-nag and checkov, recorded as resource metadata.

Both tools read suppressions from a resource's CloudFormation metadata: cdk-nag from
``cdk_nag.rules_to_suppress``, checkov from ``checkov.skip``. Writing the metadata
directly keeps the cdk-nag library out of synth (it is a test-time tool here), and
puts every reason next to the resource it is about, in the template itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import CfnResource
from constructs import IConstruct


@dataclass(frozen=True)
class NagAcknowledgement:
    """One cdk-nag rule acknowledged on a resource, with a specific reason."""

    rule_id: str
    reason: str
    applies_to: tuple[str, ...] = field(default_factory=tuple)


def _cfn_resource(construct: IConstruct) -> CfnResource:
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    return resource


def acknowledge_nag(construct: IConstruct, *acknowledgements: NagAcknowledgement) -> None:
    """Record cdk-nag acknowledgements on ``construct``'s CloudFormation resource."""
    resource = _cfn_resource(construct)
    existing = resource.get_metadata("cdk_nag") or {"rules_to_suppress": []}
    rules = list(existing["rules_to_suppress"])
    for item in acknowledgements:
        entry: dict[str, object] = {"id": item.rule_id, "reason": item.reason}
        if item.applies_to:
            entry["applies_to"] = list(item.applies_to)
        rules.append(entry)
    resource.add_metadata("cdk_nag", {"rules_to_suppress": rules})


def acknowledge_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Record a checkov skip, with its reason, on ``construct``'s CloudFormation resource."""
    resource = _cfn_resource(construct)
    existing = resource.get_metadata("checkov") or {"skip": []}
    skips = [*existing["skip"], {"id": check_id, "comment": reason}]
    resource.add_metadata("checkov", {"skip": skips})
