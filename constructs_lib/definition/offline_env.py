"""The process environment under which the SageMaker SDK is imported and renders: no AWS, no noise.

The SDK builds a default boto3 session at import time, and without credentials botocore would
search ``~/.aws``, run credential processes or call the instance metadata service. Static dummy
values keep it from looking anywhere; nothing is signed, since rendering sends no request.
``sdk_builder`` imports the SDK inside ``offline_aws_environment()`` and renders inside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
for _name in ("sagemaker", "sagemaker.config", "sagemaker.workflow.utilities", "botocore.credentials"):
    # The SDK logs INFO and WARNING lines that are expected offline (e.g. it drops TrainingJobName),
    # and botocore would announce the dummy credentials below as "found", which would mislead.
    logging.getLogger(_name).setLevel(logging.ERROR)

OFFLINE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "offline-rendering",
    "AWS_SECRET_ACCESS_KEY": "offline-rendering",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
"""Set while the SDK is imported and while it renders."""


@contextlib.contextmanager
def offline_aws_environment() -> Iterator[None]:
    """Set ``OFFLINE_AWS_ENVIRONMENT`` for the duration, then restore what was there."""
    saved = {key: os.environ.get(key) for key in OFFLINE_AWS_ENVIRONMENT}
    os.environ.update(OFFLINE_AWS_ENVIRONMENT)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
