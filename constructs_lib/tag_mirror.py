"""Tags for plain ``CfnResource``s, which CDK's ``Tags.of(scope).add`` does not reach.

``Tags.of`` tags what has a ``TagManager``: the typed L1 classes (``CfnRole``, ``CfnFunction``, ...). A
generic ``CfnResource`` has none, so a tag that an app puts on its stack or app would miss it in the
template (CloudFormation would still propagate stack-level tags at deploy, but a tag policy or an SCP
that requires tags on ``CreateFunction`` is checked against the template's own). ``MirrorTags`` gives
such a resource, at synth, the tags CDK's tag aspects gave a typed sibling in the same scope.
"""

from __future__ import annotations

import jsii
from aws_cdk import AspectPriority, Aspects, CfnResource, IAspect, TagManager
from constructs import IConstruct


@jsii.implements(IAspect)
class MirrorTags:
    """Copies the rendered tags of ``source`` (a taggable L1) onto each plain resource it visits."""

    def __init__(self, source: CfnResource) -> None:
        self._tags: TagManager = source.tags  # type: ignore[attr-defined]  # typed L1s carry a TagManager

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and not TagManager.is_taggable(node):
            rendered = self._tags.render_tags() or []
            if rendered:
                node.add_property_override("Tags", [{"Key": tag["key"], "Value": tag["value"]} for tag in rendered])


def mirror_tags(source: CfnResource, *targets: CfnResource) -> None:
    """Give ``targets`` the tags of ``source`` at synth: after the tag aspects (``READONLY`` priority runs
    after their ``MUTATING`` one), and, without aspect stabilization, after ``source`` (created first)."""
    mirror = MirrorTags(source)
    for target in targets:
        Aspects.of(target).add(mirror, priority=AspectPriority.READONLY)
