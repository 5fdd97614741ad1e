"""Test helpers: a stand-in chat-completions server, and the bus as the asr
service and the overlay see it. For tests and the benchmark only.

The stand-in is an OpenAI-compatible chat-completions server.

No real LLM endpoint is reachable offline, so this small HTTP server (on
127.0.0.1, a free port) speaks the same JSON shape as vLLM's
/v1/chat/completions and can be told to misbehave: answer slowly, fail
with HTTP 500, send garbage, drop glossary placeholders, or ramble. Its
"translations" come from a tiny phrasebook (anything else is echoed with a
marker): it proves the adapter's protocol, timeouts and fallbacks, not
translation quality.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sightline.v1.asr_pb2 import Transcript
from sightline.v1.translation_pb2 import Translation
from sightline_runtime import subjects
from sightline_runtime.events import event_headers, new_meta

from sightline_translation.engines import PLACEHOLDER

PHRASEBOOK = {
    "火车站在哪里？": "Where is the train station?",
    "小心地滑": "Caution: wet floor",
    "谢谢你的帮助！": "Thank you for your help!",
    "Where is the train station?": "火车站在哪里？",
    "Thank you very much.": "非常感谢。",
}
MODES = ("ok", "slow", "error500", "garbage", "not_json", "drop_placeholders", "ramble")


def stand_in_translation(text: str) -> str:
    return PHRASEBOOK.get(text, f"(stand-in) {text}")


class ChatCompletionsStandIn:
    def __init__(self, *, mode: str = "ok", delay_s: float = 5.0) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                stand_in.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, payload = stand_in.answer(self.path, body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                # The client may have given up (timeout): expected in "slow" mode.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return  # quiet: tests read self.requests instead

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="chat-stand-in", daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def answer(self, path: str, body: bytes) -> tuple[int, bytes]:
        if path != "/v1/chat/completions":
            return 404, b'{"error": {"message": "not found"}}'
        if self.mode == "error500":
            return 500, b'{"error": {"message": "model crashed"}}'
        if self.mode == "not_json":
            return 200, b"<html>502 Bad Gateway</html>"
        if self.mode == "slow":
            time.sleep(self.delay_s)
        request = json.loads(body)
        text = request["messages"][-1]["content"]
        content: object = stand_in_translation(text)
        if self.mode == "garbage":
            return 200, json.dumps({"choices": [{"message": {"role": "assistant", "content": None}}]}).encode()
        if self.mode == "drop_placeholders":
            content = PLACEHOLDER.sub("", str(content))
        if self.mode == "ramble":
            content = "Certainly! Here is a detailed explanation of the translation. " * 50
        reply = {
            "id": "chatcmpl-stand-in",
            "object": "chat.completion",
            "model": request.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
        return 200, json.dumps(reply, ensure_ascii=False).encode()

    def start(self) -> ChatCompletionsStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ChatCompletionsStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the bus as the asr service and the overlay see it ---
def transcript(
    device_id: str,
    text: str,
    *,
    utterance_id: str = "u1",
    revision: int = 1,
    final: bool = False,
    language: str = "en",
    target_language: str = "",
) -> Transcript:
    return Transcript(
        meta=new_meta(device_id, "asr"),
        utterance_id=utterance_id,
        revision=revision,
        is_final=final,
        text=text,
        language=language,
        target_language=target_language,
        engine="test-script",
    )


async def publish_transcript(nc, event: Transcript) -> None:
    """As the asr service does: partials on core NATS, finals into JetStream ASR."""
    subject = subjects.domain("asr", "final" if event.is_final else "partial", event.meta.device_id)
    if event.is_final:
        await nc.jetstream().publish(subject, event.SerializeToString(), headers=event_headers(event))
    else:
        await nc.publish(subject, event.SerializeToString(), headers=event_headers(event))


class TranslationTap:
    """Every Translation event of one device (partial, final and photo) as it arrives."""

    def __init__(self, nc, device_id: str) -> None:
        self.nc = nc
        self.device_id = device_id
        self.events: asyncio.Queue[tuple[str, Translation]] = asyncio.Queue()
        self._subs: list[Any] = []

    async def __aenter__(self) -> TranslationTap:
        async def on_message(msg) -> None:
            await self.events.put((msg.subject, Translation.FromString(msg.data)))

        for kind in ("partial", "final", "photo"):
            self._subs.append(await self.nc.subscribe(subjects.domain("translation", kind, self.device_id), cb=on_message))
        await self.nc.flush()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for sub in self._subs:
            await sub.unsubscribe()

    async def next(self, timeout_s: float = 10.0) -> Translation:
        return (await asyncio.wait_for(self.events.get(), timeout_s))[1]

    async def final(self, timeout_s: float = 10.0) -> Translation:
        """The next final, skipping partials."""
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self.next(timeout_s)
                if event.is_final:
                    return event

    async def photo(self, timeout_s: float = 10.0) -> Translation:
        """The next translation of a photo's text, skipping speech."""
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self.next(timeout_s)
                if event.photo_id:
                    return event

    async def drain(self, idle_s: float = 1.0) -> list[Translation]:
        """Everything that arrives until nothing has for idle_s."""
        got = []
        with contextlib.suppress(TimeoutError):
            while True:
                got.append(await self.next(idle_s))
        return got
