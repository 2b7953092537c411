"""The CDK feature flags this library's constructs pin for themselves, whatever the app sets.

A feature flag is read with ``FeatureFlags.of(scope)``, which looks up the context from the
construct that asks, up to the app. A construct may set context on itself before it has children,
so the library sets these on its top construct and every resource under it synthesizes the same
in an app that sets no flags (a ``cdk.json`` without ``context``), old flags or the newest ones.
Without this, an app lacking ``@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy`` fails synth
(``objectOwnership must be set to "ObjectWriter" when accessControl is "LogDeliveryWrite"``: the
access-log bucket would get an ACL, which the buckets' ``BucketOwnerEnforced`` ownership forbids).

The values are the ones ``cdk init`` writes for aws-cdk-lib 2.275 (this repository's ``cdk.json``).
Flags of ``@aws-cdk/core`` are read from the stack or the app, not from a construct, so they are the
app's to choose; none of them changes what the permission matrix allows. So is
``@aws-cdk/aws-iam:minimizePolicies``: policy documents are resolved with the stack as their scope.
It only sorts and merges statements, and the library writes every action list sorted and gives
every statement a ``Sid``, so its policies come out the same with the flag on or off.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

PINNED_FEATURE_FLAGS: dict[str, Any] = {
    "@aws-cdk/aws-events:eventsTargetQueueSameAccount": True,
    "@aws-cdk/aws-events:requireEventBusPolicySid": True,
    "@aws-cdk/aws-iam:importedRoleStackSafeDefaultPolicyName": True,
    "@aws-cdk/aws-kms:aliasNameRef": True,
    "@aws-cdk/aws-kms:applyImportedAliasPermissionsToPrincipal": True,
    "@aws-cdk/aws-kms:reduceCrossAccountRegionPolicyScope": True,
    "@aws-cdk/aws-lambda:createNewPoliciesWithAddToRolePolicy": False,
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/aws-lambda:useCdkManagedLogGroup": True,
    "@aws-cdk/aws-s3:createDefaultLoggingPolicy": True,
    "@aws-cdk/aws-s3:keepNotificationInImportedBucket": False,
    "@aws-cdk/aws-s3:publicAccessBlockedByDefault": True,
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-s3:setUniqueReplicationRoleName": True,
    "@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption": True,
    "@aws-cdk/custom-resources:logApiResponseDataPropertyTrueDefault": False,
    "@aws-cdk/customresources:installLatestAwsSdkDefault": False,
    "@aws-cdk/s3-notifications:addS3TrustKeyPolicyForSnsSubscriptions": True,
}


def pin_feature_flags(construct: Construct) -> None:
    """Set ``PINNED_FEATURE_FLAGS`` on ``construct``; call it before the construct has any child."""
    node = construct.node  # one Node-process round trip, not one per flag
    for flag, value in PINNED_FEATURE_FLAGS.items():
        node.set_context(flag, value)
