"""CloudFormation custom resource: copy a CDK file asset to a key of the stage's bucket, and never delete it.

Deployed as inline Lambda code (``ZipFile``, at most 4 KB), so it uses the standard library and boto3
only, and answers CloudFormation itself: a PUT of the JSON response to the pre-signed ``ResponseURL``
("Custom resources" and "Custom resource response objects", AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).
"""

import json
import urllib.request
from typing import Any

import boto3


def handler(event: dict[str, Any], context: object, s3: Any = None) -> dict[str, str]:
    """Create/Update: CopyObject; Delete: nothing (old definitions still name old bundles)."""
    props = event["ResourceProperties"]
    physical = event.get("PhysicalResourceId") or props["Key"]
    status, reason = "SUCCESS", "copied"
    try:
        if event["RequestType"] in ("Create", "Update"):
            source = {"Bucket": props["SourceBucket"], "Key": props["SourceKey"]}
            (s3 or boto3.client("s3")).copy_object(Bucket=props["Bucket"], Key=props["Key"], CopySource=source)
            physical = props["Key"]
        else:
            reason = "kept: a redeployed stack's earlier executions may still read it"
    except Exception as error:  # every failure goes back to CloudFormation as the reason, never a hang
        status, reason = "FAILED", f"{type(error).__name__}: {error}"[:900]
    respond(event, status, physical, reason)
    return {"Status": status, "PhysicalResourceId": physical, "Reason": reason}


def respond(event: dict[str, Any], status: str, physical: str, reason: str) -> None:
    """PUT the response document to ``ResponseURL`` (no content type: the URL is signed without one)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": physical,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=30) as answer:  # CloudFormation's https URL
        answer.read()
