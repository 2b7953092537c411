"""Acknowledged findings of cdk-nag and checkov, recorded on the resources they are about.

* cdk-nag 3.x reads acknowledgements only from CDK's own ``Validations.of(construct)
  .acknowledge(...)`` construct metadata (``aws:cdk:acknowledged-rules``), one entry per
  finding id ``RuleId`` or ``RuleId[FindingId]``; it no longer reads CloudFormation
  metadata. ``acknowledge_nag`` records them there, and also writes the v2-style
  ``cdk_nag.rules_to_suppress`` CloudFormation metadata as the audit trail in the template.
  ``Validations`` is part of ``aws-cdk-lib``: the cdk-nag library stays a test-time tool.
* checkov reads ``checkov.skip`` CloudFormation metadata (``acknowledge_checkov``).

Every acknowledgement names exact findings and carries a specific reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct

MIN_REASON_LENGTH = 40
"""A reason shorter than this cannot say why the finding is acceptable."""


@dataclass(frozen=True)
class NagAcknowledgement:
    """One cdk-nag rule acknowledged on a resource, with a specific reason.

    Attributes:
        rule_id: e.g. ``AwsSolutions-IAM5``.
        reason: why the finding is acceptable here (at least ``MIN_REASON_LENGTH`` characters).
        applies_to: the exact findings, e.g. ``Resource::*``; empty for rules with one finding per resource.
    """

    rule_id: str
    reason: str
    applies_to: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.reason.strip()) < MIN_REASON_LENGTH:
            raise ValueError(f"{self.rule_id}: acknowledgement reason too short to be specific: {self.reason!r}")

    @property
    def finding_ids(self) -> tuple[str, ...]:
        """The ids cdk-nag 3 reports and matches: ``RuleId[Finding]`` per finding, or ``RuleId``."""
        if not self.applies_to:
            return (self.rule_id,)
        return tuple(f"{self.rule_id}[{finding}]" for finding in self.applies_to)


def _cfn_resource(construct: IConstruct) -> CfnResource:
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    return resource


def nag_reference(construct: IConstruct, attribute: str | None = None) -> str:
    """How cdk-nag writes a reference to ``construct`` in a finding: ``<LogicalId.Attr>`` or ``<LogicalId>``."""
    resource = _cfn_resource(construct)
    logical_id = Stack.of(resource).resolve(resource.logical_id)
    return f"<{logical_id}.{attribute}>" if attribute else f"<{logical_id}>"


def nag_arn(scope: IConstruct, value: str) -> str:
    """How cdk-nag writes ``value`` (a string that may hold CDK tokens) in a finding.

    cdk-nag flattens the resolved value: ``Ref`` becomes ``<Name>``, ``Fn::GetAtt`` ``<Name.Attr>``
    and ``Fn::Join`` its joined parts, so an owned bucket's ARN reads ``<LogicalId.Arn>`` and an
    imported one's ``arn:<AWS::Partition>:s3:::name``.
    """
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    raise TypeError(f"cannot write {value!r} as cdk-nag does")


def acknowledge_nag(construct: IConstruct, *acknowledgements: NagAcknowledgement) -> None:
    """Acknowledge cdk-nag findings on ``construct``'s CloudFormation resource (see the module docstring)."""
    resource = _cfn_resource(construct)
    existing = resource.get_metadata("cdk_nag") or {"rules_to_suppress": []}
    rules = list(existing["rules_to_suppress"])
    for item in acknowledgements:
        Validations.of(resource).acknowledge(
            *(Acknowledgment(id=finding_id, reason=item.reason) for finding_id in item.finding_ids)
        )
        entry: dict[str, object] = {"id": item.rule_id, "reason": item.reason}
        if item.applies_to:
            entry["applies_to"] = list(item.applies_to)
        rules.append(entry)
    resource.add_metadata("cdk_nag", {"rules_to_suppress": rules})


def acknowledge_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Record a checkov skip, with its reason, on ``construct``'s CloudFormation resource."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"{check_id}: checkov skip reason too short to be specific: {reason!r}")
    resource = _cfn_resource(construct)
    existing = resource.get_metadata("checkov") or {"skip": []}
    skips = [*existing["skip"], {"id": check_id, "comment": reason}]
    resource.add_metadata("checkov", {"skip": skips})
