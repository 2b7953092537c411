"""CloudFormation's pseudo parameters as CDK token strings, each read once per process.

``Aws.PARTITION`` and its siblings are static properties of a jsii class: every read is a round trip
to the CDK's Node process that returns the same token string (CDK defines them as static readonly
values), and the grants read them dozens of times per stage. The tokens resolve per stack at synth
(``Ref: AWS::Partition``), so one string serves every stack and every app.
"""

from __future__ import annotations

from functools import cache

from aws_cdk import Aws


@cache
def partition() -> str:
    """``AWS::Partition``."""
    return Aws.PARTITION


@cache
def region() -> str:
    """``AWS::Region``."""
    return Aws.REGION


@cache
def account_id() -> str:
    """``AWS::AccountId``."""
    return Aws.ACCOUNT_ID
