"""Asking the assistant on its request subjects (assistant.rpc.<method>) as the
hub's admin: the reply decoded, or a clear error from its refusal headers."""

from __future__ import annotations

from typing import Any, TypeVar

import nats.errors
from google.protobuf.message import DecodeError, Message
from sightline_runtime.replies import refusal

from sightline_cli.console import fail

Response = TypeVar("Response", bound=Message)

GET_TRANSCRIPT = "assistant.rpc.get_transcript"
IMPORT_CALENDAR = "assistant.rpc.import_calendar"


async def ask(nc: Any, subject: str, request: Message, kind: type[Response], wait_s: float) -> Response:
    try:
        reply = await nc.request(subject, request.SerializeToString(), timeout=wait_s)
    except nats.errors.NoRespondersError:
        raise fail(f"the assistant is not answering (no responders on {subject}): is it running? try `sightline status`") from None
    except (TimeoutError, nats.errors.TimeoutError):
        raise fail(f"the assistant did not answer within {wait_s:g} s ({subject})") from None
    except nats.errors.MaxPayloadError:
        raise fail(f"the request is larger than the hub accepts ({nc.max_payload:,} bytes)", 2) from None
    refused = refusal(reply.headers)
    if refused is not None:
        code, message = refused
        raise fail(f"the assistant refused the request ({code}): {message}", 2 if 400 <= code < 500 else 1)
    try:
        return kind.FromString(reply.data)
    except DecodeError:
        raise fail(f"the assistant sent a reply that is not a {kind.DESCRIPTOR.name}") from None
