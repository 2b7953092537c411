"""The code-copy custom resource handler: CopyObject on create and update, nothing on delete, every outcome answered.

CloudFormation waits for the response document at ``ResponseURL`` (AWS CloudFormation User Guide, "Custom
resource response objects", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html):
a handler that raised instead of answering would leave the stack waiting for an hour. S3's CopyObject request
and response are checked against botocore's service model by the Stubber.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from constructs_lib.code_bundle import HANDLER_SOURCE, INLINE_CODE_LIMIT
from constructs_lib.runtime import code_copy

PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:us-east-1:111122223333:function:copy",
    "SourceBucket": "cdk-hnb659fds-assets-111122223333-us-east-1",
    "SourceKey": "0123abcd.gz",
    "Bucket": "stage-artifacts",
    "Key": "code/sourcedir-0123456789abcdef.tar.gz",
}


def event(request_type: str, physical: str | None = None) -> dict[str, Any]:
    found = {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/signed",
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/SageMakerTraining-dev/1",
        "RequestId": "request-1",
        "LogicalResourceId": "CodeBundleCopy",
        "ResourceType": "Custom::CodeBundleCopy",
        "ResourceProperties": PROPERTIES,
    }
    return {**found, "PhysicalResourceId": physical} if physical else found


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The documents the handler PUTs to the response URL."""
    sent: list[dict[str, Any]] = []

    class Answer:
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def read(self) -> bytes:
            return b""

    def urlopen(request: Any, timeout: float) -> Answer:
        assert request.get_method() == "PUT" and request.headers.get("Content-type") == ""
        sent.append(json.loads(request.data))
        return Answer()

    monkeypatch.setattr(code_copy.urllib.request, "urlopen", urlopen)
    return sent


def s3_client() -> Any:
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_copy_the_asset_to_its_key(request_type: str, responses: list[dict[str, Any]]) -> None:
    s3 = s3_client()
    with Stubber(s3) as stub:
        stub.add_response(
            "copy_object",
            {"CopyObjectResult": {"ETag": '"abc"'}, "ServerSideEncryption": "aws:kms", "BucketKeyEnabled": True},
            {
                "Bucket": "stage-artifacts",
                "Key": "code/sourcedir-0123456789abcdef.tar.gz",
                "CopySource": {"Bucket": PROPERTIES["SourceBucket"], "Key": "0123abcd.gz"},
            },
        )
        code_copy.handler(event(request_type, "code/sourcedir-old.tar.gz"), None, s3)
        stub.assert_no_pending_responses()
    (answer,) = responses
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "code/sourcedir-0123456789abcdef.tar.gz"  # a new bundle: a new id
    assert answer["RequestId"] == "request-1" and answer["LogicalResourceId"] == "CodeBundleCopy"


def test_delete_keeps_the_bundle(responses: list[dict[str, Any]]) -> None:
    """Delete (also sent for the old id after an update) calls nothing: old definitions still name the bundle."""
    s3 = s3_client()
    with Stubber(s3):  # any S3 call would fail: no response is queued
        code_copy.handler(event("Delete", "code/sourcedir-old.tar.gz"), None, s3)
    (answer,) = responses
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "code/sourcedir-old.tar.gz"


def test_a_denied_copy_fails_the_deploy_with_its_reason(responses: list[dict[str, Any]]) -> None:
    s3 = s3_client()
    with Stubber(s3) as stub:
        stub.add_client_error("copy_object", service_error_code="AccessDenied", service_message="Access Denied")
        code_copy.handler(event("Create"), None, s3)
    (answer,) = responses
    assert answer["Status"] == "FAILED"
    assert "AccessDenied" in answer["Reason"] and answer["PhysicalResourceId"] == PROPERTIES["Key"]


def test_the_handler_fits_lambdas_inline_code_limit() -> None:
    assert len(HANDLER_SOURCE.read_text()) <= INLINE_CODE_LIMIT
