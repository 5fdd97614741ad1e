"""TranslationService.Translate over NATS request/reply.

Request: TranslateRequest on `translation.rpc.translate`; reply:
TranslateResponse. A refused or failed request gets an empty body and the
NATS services error headers (Nats-Service-Error, Nats-Service-Error-Code:
400 bad request, 403 unknown device, 503 engines failed), so a caller can
tell "no" from "nothing translated".
"""

from __future__ import annotations

from sightline.v1.translation_pb2 import TranslateRequest, TranslateResponse
from sightline_runtime.replies import ERROR_CODE_HEADER, ERROR_HEADER, error_headers

__all__ = ["ERROR_CODE_HEADER", "ERROR_HEADER", "RPC_SUBJECT", "TranslateError", "error_headers", "request_translation"]

RPC_SUBJECT = "translation.rpc.translate"


class TranslateError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


async def request_translation(nc, request: TranslateRequest, *, timeout_s: float = 5.0) -> TranslateResponse:
    """Ask the translation service (nc: a connected nats-py client)."""
    reply = await nc.request(RPC_SUBJECT, request.SerializeToString(), timeout=timeout_s)
    headers = reply.headers or {}
    if ERROR_CODE_HEADER in headers:
        raise TranslateError(int(headers[ERROR_CODE_HEADER]), headers.get(ERROR_HEADER, ""))
    return TranslateResponse.FromString(reply.data)
