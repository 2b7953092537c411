"""``make invoke STAGE=… FILE=rows.csv``: send rows to the stage's endpoint and print P(label = 1) per row.

The request follows the serving contract of ``training_src/inference.py`` (README, "Serving a registered
model"): ``text/csv`` (one row per line, feature values in ``feature_columns`` order, no header) or
``application/json`` (a list of records keyed by feature name), chosen by the file's extension; the answer is
requested as ``application/json``, a list of probabilities. A request the model refuses comes back from
InvokeEndpoint as ``ModelError`` with the container's status and message in ``OriginalStatusCode`` and
``OriginalMessage`` (SageMaker Runtime API Reference, InvokeEndpoint,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html); its first line is
the one-line reason the serving code gives, which is what is printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from botocore.exceptions import ClientError  # type: ignore[import-untyped]  # botocore ships no type hints

from ops.aws import OperatorError, StageAws, error_code
from ops.endpoint import ENDPOINT_OUTPUT, deployment_output

CONTENT_TYPES = {".csv": "text/csv", ".json": "application/json"}
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""InvokeEndpoint's request limit: "Maximum request payload size: 6 MB" (API Reference, InvokeEndpoint)."""


def read_request(path: Path) -> tuple[bytes, str]:
    """The file's bytes and content type.

    Raises:
        OperatorError: for a missing, empty or too large file, or an extension other than .csv or .json.
    """
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise OperatorError(f"FILE={path}: use a .csv file (rows, no header) or a .json file (a list of records)")
    if not path.is_file():
        raise OperatorError(f"FILE={path}: no such file")
    body = path.read_bytes()
    if not body.strip():
        raise OperatorError(f"FILE={path}: the file is empty; send at least one row")
    if len(body) > MAX_PAYLOAD_BYTES:
        raise OperatorError(f"FILE={path}: {len(body)} bytes; InvokeEndpoint takes at most 6 MB, split the file")
    return body, content_type


def invoke(aws: StageAws, path: Path, out: TextIO) -> int:
    """Send the rows of ``path`` and print one probability per row."""
    body, content_type = read_request(path)
    endpoint = deployment_output(aws, ENDPOINT_OUTPUT)
    try:
        response = aws.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType=content_type, Accept="application/json", Body=body
        )
    except ClientError as error:
        if error_code(error) == "ModelError":
            original = str(error.response.get("OriginalMessage") or error.response.get("Error", {}).get("Message", ""))
            status = error.response.get("OriginalStatusCode", "?")
            first_line = original.strip().splitlines()[0] if original.strip() else "no message"
            raise OperatorError(f"the model refused the request ({status}): {first_line}") from None
        raise
    answer = response["Body"].read().decode()
    try:
        probabilities = json.loads(answer)
    except ValueError:
        raise OperatorError(f"endpoint {endpoint} answered something other than JSON: {answer[:200]!r}") from None
    if not isinstance(probabilities, list):
        raise OperatorError(f"endpoint {endpoint} answered {answer[:200]!r}, not a list of probabilities")
    print(f"endpoint {endpoint}: P(label = 1) for {len(probabilities)} row(s) of {path}", file=out)
    for row, probability in enumerate(probabilities, start=1):
        print(f"{row:>6}  {float(probability):.4f}", file=out)
    return 0
