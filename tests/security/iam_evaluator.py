"""A small IAM policy evaluator: the matching rules the permission matrix needs, as AWS documents them.

No pinned, offline, maintained Python library evaluates IAM policies with conditions, so this
test code does, following the IAM User Guide:

* "IAM JSON policy elements: Action / Resource" — action names match case-insensitively, ARNs
  case-sensitively, both with ``*`` and ``?`` wildcards
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html);
* "IAM JSON policy elements: Condition operators" — operators are AND-ed, keys within an
  operator AND-ed, a key's values OR-ed; "If the key that you specify in a policy condition is not
  present in the request context, the values do not match and the condition is false. If the policy
  condition requires that the key is not matched, such as StringNotLike or ArnNotLike, and the right
  key is not present, the condition is true. This logic applies to all condition operators except
  ...IfExists and Null check" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html);
* "Policy evaluation logic" — an explicit Deny in any policy wins; within one account a request is
  allowed by the identity policy or by a resource policy that names the principal itself
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
* AWS KMS "Key policies in AWS KMS" — "Unless the key policy explicitly allows it, you cannot use IAM
  policies to allow access to a KMS key"; the default key policy allows the account, which delegates
  to IAM (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html).

Date, IP address and binary operators are not used by this project and raise.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ContextValue = str | Sequence[str]


class Decision(enum.Enum):
    """The outcome of one request."""

    ALLOW = "allowed"
    IMPLICIT_DENY = "implicitly denied (no statement allows it)"
    EXPLICIT_DENY = "explicitly denied"


@dataclass(frozen=True)
class Request:
    """One request as IAM sees it: who, which action, on which resource, with which context keys.

    ``principal`` is a role ARN, or a service principal such as ``sagemaker.amazonaws.com``.
    """

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    @property
    def account(self) -> str | None:
        """The principal's account, for role ARNs."""
        parts = self.principal.split(":")
        return parts[4] if self.principal.startswith("arn:") and len(parts) > 4 else None


@functools.cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    translated = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(translated, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard match: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one character."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """``ArnLike``/``ArnEquals``: each of the six colon-delimited components matched separately."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _number(value: Any) -> float:
    return float(value)


_BASE_OPERATORS = {
    "StringEquals": lambda policy, actual: str(policy) == actual,
    "StringEqualsIgnoreCase": lambda policy, actual: str(policy).lower() == actual.lower(),
    "StringLike": lambda policy, actual: glob_match(str(policy), actual),
    "ArnEquals": lambda policy, actual: arn_match(str(policy), actual),
    "ArnLike": lambda policy, actual: arn_match(str(policy), actual),
    "Bool": lambda policy, actual: str(policy).lower() == actual.lower(),
    "NumericEquals": lambda policy, actual: _number(actual) == _number(policy),
    "NumericLessThan": lambda policy, actual: _number(actual) < _number(policy),
    "NumericLessThanEquals": lambda policy, actual: _number(actual) <= _number(policy),
    "NumericGreaterThan": lambda policy, actual: _number(actual) > _number(policy),
    "NumericGreaterThanEquals": lambda policy, actual: _number(actual) >= _number(policy),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _context_value(context: Mapping[str, ContextValue], key: str) -> ContextValue | None:
    """Condition key names are case-insensitive."""
    lowered = {name.lower(): value for name, value in context.items()}
    return lowered.get(key.lower())


def condition_holds(operator: str, key: str, policy_values: Any, context: Mapping[str, ContextValue]) -> bool:
    """One ``operator: {key: values}`` entry of a Condition block against the request context."""
    actual = _context_value(context, key)
    if operator == "Null":
        return (actual is None) == (str(policy_values).lower() == "true")
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator in _NEGATED
    base = _BASE_OPERATORS.get(_NEGATED.get(operator, operator))
    if base is None:
        raise NotImplementedError(f"condition operator {operator!r} is not modelled by the test evaluator")
    if actual is None:
        return if_exists or negated or qualifier == "ForAllValues"
    values = _as_list(policy_values)
    if not qualifier and not isinstance(actual, str):
        raise NotImplementedError(f"{key} is multivalued in the request; the policy needs ForAnyValue/ForAllValues")
    actual_values = [actual] if isinstance(actual, str) else list(actual)

    def matches(one: str) -> bool:
        return any(base(value, one) for value in values) != negated

    if qualifier == "ForAllValues":
        return all(matches(one) for one in actual_values)
    return any(matches(one) for one in actual_values)


def conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    """Every operator and every key of a statement's Condition block holds."""
    return all(
        condition_holds(operator, key, values, context)
        for operator, keys in conditions.items()
        for key, values in keys.items()
    )


def _principal_match(principal: Any, request: Request) -> str | None:
    """``"direct"`` when the statement names the principal itself, ``"account"`` for its account, else None."""
    if principal == "*":
        return "direct"
    matched = None
    for kind, values in principal.items():
        for value in _as_list(values):
            if kind == "Service" and value == request.principal:
                return "direct"
            if kind == "AWS" and value in ("*", request.principal):
                return "direct"
            if (
                kind == "AWS"
                and request.account
                and re.fullmatch(rf"({request.account}|arn:[^:]+:iam::{request.account}:root)", value)
            ):
                matched = "account"
    return matched


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotAction" in statement or "NotResource" in statement or "NotPrincipal" in statement:
        raise NotImplementedError("NotAction/NotResource/NotPrincipal are not modelled by the test evaluator")
    if not any(glob_match(a, request.action, ignore_case=True) for a in _as_list(statement["Action"])):
        return False
    if not any(glob_match(r, request.resource) for r in _as_list(statement.get("Resource", "*"))):
        return False
    return conditions_hold(statement.get("Condition", {}), request.context)


def effects(policy: Mapping[str, Any] | None, request: Request, *, resource_policy: bool = False) -> set[str]:
    """The effects (``Allow``/``Deny``, ``Allow:account`` for an account grant) of the statements that apply."""
    found: set[str] = set()
    for statement in _as_list((policy or {}).get("Statement", [])):
        principal_kind = "direct"
        if resource_policy:
            principal_kind = _principal_match(statement.get("Principal", {}), request) or ""
            if not principal_kind:
                continue
        if _statement_applies(statement, request):
            effect = statement["Effect"]
            found.add(f"{effect}:account" if effect == "Allow" and principal_kind == "account" else effect)
    return found


def evaluate(
    request: Request,
    *,
    identity_policies: Sequence[Mapping[str, Any]] = (),
    resource_policy: Mapping[str, Any] | None = None,
    key_policy: Mapping[str, Any] | None = None,
) -> Decision:
    """Same-account evaluation: explicit Deny wins; KMS needs its key policy; otherwise identity OR resource."""
    identity = set().union(*(effects(policy, request) for policy in identity_policies))
    resource = effects(resource_policy, request, resource_policy=True)
    key = effects(key_policy, request, resource_policy=True)
    if "Deny" in identity | resource | key:
        return Decision.EXPLICIT_DENY
    if key_policy is not None:
        allowed = "Allow" in key or ("Allow:account" in key and "Allow" in identity)
    else:
        allowed = "Allow" in identity or "Allow" in resource
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
