"""A fault-injecting HTTP proxy in front of a real OpenAI-compatible server,
for tests: the failures a real model cannot be asked for (HTTP 500, a
body that is not a completion, slowness, a lost glossary placeholder, a
rambling answer) applied on the way back. In "pass" mode it is a
transparent recorder: every exchange (request, the real model's answer,
what the client got) is kept in `exchanges` for the test to inspect.

Modes:
  pass               forward, answer unchanged
  delay              forward, hold the real answer for delay_s (the model
                     works at once, so a client that gives up costs it nothing more)
  status_500         HTTP 500, not forwarded (the model server crashed)
  garbage            a chat-completions body whose content is not text, not forwarded
  not_json           an HTML error page with status 200 (a broken gateway), not forwarded
  drop_placeholders  forward, remove ⟦n⟧ tokens from the real answer
  ramble             forward, the real answer followed by a long ramble

It runs in a thread (ThreadingHTTPServer), so sync and async tests alike
can use it; 127.0.0.1 on a free port.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

MODES = ("pass", "delay", "status_500", "garbage", "not_json", "drop_placeholders", "ramble")
_PLACEHOLDER = re.compile(r"⟦\s*\d{1,3}\s*⟧")
RAMBLE = "Certainly! Let me also explain the background of this in more detail, step by step. "
_NOT_FORWARDED = {
    "status_500": (500, b'{"error": {"message": "model crashed", "type": "server_error"}}'),
    "garbage": (
        200,
        b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": null}}]}',
    ),
    "not_json": (200, b"<html><body>502 Bad Gateway</body></html>"),
}


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    mode: str
    status: int = 0
    upstream: bytes = b""  # the real server's answer (empty when not forwarded)
    reply: bytes = b""  # what the client was sent

    @property
    def request(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}

    @property
    def user_text(self) -> str:
        """The last message the client sent."""
        return str(self.request["messages"][-1]["content"])

    @property
    def model_content(self) -> str:
        """The real model's answer text, before any fault was applied."""
        return _content(self.upstream)


def _content(body: bytes) -> str:
    return str(json.loads(body)["choices"][0]["message"]["content"])


def _with_content(body: bytes, change: Any) -> bytes:
    payload = json.loads(body)
    message = payload["choices"][0]["message"]
    message["content"] = change(str(message["content"]))
    return json.dumps(payload, ensure_ascii=False).encode()


class FaultProxy:
    def __init__(self, upstream: str, *, mode: str = "pass", delay_s: float = 5.0) -> None:
        """upstream: the real server's API base (…/v1)."""
        self.upstream = upstream
        self.mode = mode
        self.delay_s = delay_s
        self.exchanges: list[Exchange] = []
        parts = urlsplit(upstream)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._stopping = threading.Event()
        self._http = httpx.Client(timeout=httpx.Timeout(120.0))
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._handle(self, "GET")

            def do_POST(self) -> None:
                proxy._handle(self, "POST")

            def log_message(self, format: str, *args: object) -> None:
                return  # quiet: tests read proxy.exchanges instead

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="llm-fault-proxy", daemon=True)

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {', '.join(MODES)}")
        self._mode = mode

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def chat_exchanges(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.path.endswith("/chat/completions")]

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length) if length else b""
        exchange = Exchange(method, handler.path, dict(handler.headers), body, self.mode)
        self.exchanges.append(exchange)
        exchange.status, exchange.reply = self._answer(exchange)
        if exchange.mode == "delay":
            self._stopping.wait(self.delay_s)
        handler.send_response(exchange.status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(exchange.reply)))
        handler.end_headers()
        # The client may have given up (its timeout): expected in "delay" mode.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(exchange.reply)

    def _answer(self, exchange: Exchange) -> tuple[int, bytes]:
        chat = exchange.path.endswith("/chat/completions")
        if chat and exchange.mode in _NOT_FORWARDED:
            return _NOT_FORWARDED[exchange.mode]
        # Only the content type and the key travel on: the proxy sets its own length.
        headers = {k: v for k, v in exchange.headers.items() if k.lower() in ("content-type", "authorization")}
        try:
            response = self._http.request(exchange.method, self._origin + exchange.path, content=exchange.body, headers=headers)
        except httpx.HTTPError as err:
            return 502, json.dumps({"error": {"message": f"upstream unreachable: {type(err).__name__}"}}).encode()
        exchange.upstream = response.content
        if not chat or response.status_code != 200:
            return response.status_code, response.content
        if exchange.mode == "drop_placeholders":
            return 200, _with_content(response.content, lambda text: _PLACEHOLDER.sub("", text))
        if exchange.mode == "ramble":
            return 200, _with_content(response.content, lambda text: text + "\n\n" + RAMBLE * 40)
        return 200, response.content

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (a client then finds nothing there, as with a server that is down)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never ran
            self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
