"""What the page receives: protobuf JSON (the canonical mapping, as
`sightline glasses --jsonl` prints it) inside small envelopes, as
Server-Sent Events.

    event: snapshot  {"device", "hud": {width, height}, "layout", "link": {"online"}, "updates": [envelope...]}
    event: update    envelope
    event: link      {"online": bool}

envelope = {"update": MessageToDict(DisplayUpdate), "ageMs": int}: ageMs is
how long ago the agent accepted the update, so the page expires it at
received + ttl_ms even when it learns of it late (after a reconnect).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.json_format import MessageToDict
from sightline.v1.display_pb2 import DisplayUpdate


def envelope(update: DisplayUpdate, age_ms: int) -> dict[str, Any]:
    return {"update": MessageToDict(update), "ageMs": max(0, age_ms)}


def sse(event: str, data: dict[str, Any]) -> bytes:
    # json.dumps never emits a raw newline, so the payload is one data: line.
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def sse_retry(ms: int) -> bytes:
    """How long EventSource waits before reconnecting."""
    return f"retry: {ms}\n\n".encode()


KEEPALIVE = b": keepalive\n\n"
