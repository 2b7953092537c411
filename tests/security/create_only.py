"""Create-only properties, read from the CloudFormation resource schemas that cfn-lint bundles.

A change to a create-only property makes CloudFormation replace the resource; for a resource with a
fixed physical name the replacement cannot be created while the old one holds the name, so the stack
update fails ("CloudFormation cannot update a stack when a custom-named resource requires replacing",
AWS CloudFormation User Guide, "Update behaviors of stack resources",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
"""

from __future__ import annotations

from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER


def create_only_properties(resource_type: str, region: str) -> list[str]:
    """The top-level create-only properties of ``resource_type`` (``/properties/X`` -> ``X``)."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CDK::Metadata":
        return []
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    return [path.split("/")[2] for path in schema.get("createOnlyProperties", []) if path.count("/") == 2]


def failed_replacements(before: dict[str, Any], after: dict[str, Any], region: str) -> list[str]:
    """Resources of both templates whose create-only properties change while their custom name does not."""
    problems = []
    for logical_id, old in before["Resources"].items():
        new = after["Resources"].get(logical_id)
        if new is None or new["Type"] != old["Type"]:
            continue
        create_only = create_only_properties(old["Type"], region)
        old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
        changed = [name for name in create_only if old_props.get(name) != new_props.get(name)]
        names = [name for name in create_only if name.endswith("Name") and name in old_props]
        if changed and names and all(old_props[name] == new_props.get(name) for name in names):
            problems.append(f"{logical_id} ({old['Type']}): {', '.join(changed)} change under a fixed {names[0]}")
    return problems
