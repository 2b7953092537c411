"""Answer requests with an extracted ``model.tar.gz`` through the real SageMaker PyTorch serving handler.

Run by ``serving_harness.serve`` in a subprocess whose ``sys.path`` is what the inference container
gives a worker: ``PYTHONPATH=<model dir>/code`` (``torchserve._set_python_path`` in
sagemaker-pytorch-inference 2.0.25) and site-packages, and never ``training_src/``. So a request
answered here proves the model's own ``code/`` is enough to serve it. pandas is blocked, as in the EC2
stage of the PyTorch inference DLC, which lacks it: the SageMaker stage's pandas only makes CSV decoding
faster (``request_rows.csv_reader``, whose both paths ``test_serving_codec`` compares).

Usage: ``python -s -P serving_driver.py REQUESTS_JSON`` -> one JSON object on stdout.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from sagemaker_inference import environment
from sagemaker_pytorch_serving_container.handler_service import HandlerService


class RequestProcessor:
    """The part of TorchServe's ``ts.context.RequestProcessor`` the toolkit uses: headers in, status out."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers
        self.status: tuple[int, str | None] = (200, None)
        self.response_headers: dict[str, str] = {}

    def get_request_properties(self) -> dict[str, str]:
        return self.headers

    def report_status(self, code: int, reason_phrase: str | None = None) -> None:
        self.status = (code, reason_phrase)

    def add_response_property(self, key: str, value: str) -> None:
        self.response_headers[key] = value


class Context:
    """The part of TorchServe's ``ts.context.Context`` (pytorch/serve, ts/context.py) the toolkit uses."""

    def __init__(self, model_dir: str) -> None:
        self.system_properties: dict[str, Any] = {"model_dir": model_dir, "gpu_id": None, "batch_size": 1}
        self.request_processor: list[RequestProcessor] = []

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.request_processor[idx].report_status(code, phrase)

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.request_processor[idx].add_response_property("content-type", value)


def _answer(service: Any, context: Context, request: dict[str, Any]) -> dict[str, Any]:
    """One request, as TorchServe hands it over with ``decode_input_request=false``: the body as bytes."""
    headers = {name: value for name, value in request["headers"].items() if value is not None}
    processor = RequestProcessor(headers)
    context.request_processor = [processor]
    raw = base64.b64decode(request["body"]) if request["encoding"] == "base64" else request["body"].encode("utf-8")
    [body] = service.handle([{"body": bytearray(raw)}], context)
    code, phrase = processor.status
    data = bytes(body) if isinstance(body, bytes | bytearray) else str(body).encode("utf-8")
    return {
        "status": code,
        "phrase": phrase,
        "content_type": processor.response_headers.get("content-type"),
        "body": data.decode("utf-8", errors="replace"),
        "body_base64": base64.b64encode(data).decode(),
    }


def main(requests_path: str) -> int:
    """Load the model the way a worker does (``initialize``), then answer every request."""
    requests = json.loads(Path(requests_path).read_text(encoding="utf-8"))
    sys.modules["pandas"] = None  # type: ignore[assignment]  # ``import pandas`` now raises ImportError
    service = HandlerService()
    context = Context(environment.model_dir)
    service.initialize(context)
    answers = {name: _answer(service, context, request) for name, request in requests.items()}
    loaded = sys.modules["inference"]
    report = {
        "answers": answers,
        "inference_file": loaded.__file__,
        "model_dir": environment.model_dir,
        "sys_path": sys.path,
        "heavy_modules_loaded": sorted(name for name in ("pandas", "pyarrow") if sys.modules.get(name) is not None),
        "csv_reader": repr(sys.modules["request_rows"].csv_reader()),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
