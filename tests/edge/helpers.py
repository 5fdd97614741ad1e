"""Helpers for the edge and chaos tests: real images, a leaf link that can
be cut, and readers of what the hub really stored."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import io
import random
import struct
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nats.js import api
from PIL import Image, ImageDraw
from sightline.v1.input_pb2 import Confirmation, DeviceInput, IntentKind, TextInput, VoiceIntent
from sightline_runtime.events import new_meta
from sightline_runtime.processes import free_port


# --- images ---
def make_photo(seed: int, *, kind: str = "jpeg", size: tuple[int, int] = (320, 240)) -> bytes:
    """A real, distinct photo: noise plus a seeded drawing, encoded by Pillow."""
    rng = random.Random(seed)
    # Seeded noise (Pillow's effect_noise is not seedable): same seed, same bytes.
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x0, y0, x0 + rng.randrange(10, 120), y0 + rng.randrange(10, 90)), fill=color)
    draw.text((8, 8), f"photo {seed}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG" if kind == "png" else "JPEG", quality=85)
    return buffer.getvalue()


def png_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A valid grey PNG of width x height pixels (144 MB decoded) that is
    only ~150 KB on disk: the zlib stream of its all-zero rows is tiny."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + one byte per pixel
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- the wearer's commands ---
def command(device: str, i: int) -> DeviceInput:
    """Commands and confirmations, the durable up-link kinds besides photos."""
    meta = new_meta(device, "glasses")
    if i % 3 == 0:
        return DeviceInput(meta=meta, voice_intent=VoiceIntent(kind=IntentKind.INTENT_KIND_BUY, transcript=f"buy this #{i}"))
    if i % 3 == 1:
        return DeviceInput(meta=meta, confirmation=Confirmation(reference_id=f"intent-{i}", approved=True, challenge=f"c{i}"))
    return DeviceInput(meta=meta, text=TextInput(text=f"note #{i}"))


# --- a leaf link that can be cut ---
class LeafLinkProxy:
    """A TCP relay between an edge and the hub's leafnode port. cut() drops
    every connection and refuses new ones (the link is gone), restore()
    accepts again. Optionally throttled, so an upload can be cut midway."""

    def __init__(self, target_port: int, *, bytes_per_s: float | None = None) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.bytes_per_s = bytes_per_s
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"nats-leaf://127.0.0.1:{self.port}"

    async def start(self) -> LeafLinkProxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(16384):
            if self.bytes_per_s:
                await asyncio.sleep(len(data) / self.bytes_per_s)
            writer.write(data)
            await writer.drain()
        writer.transport.abort()


# --- what the hub stored ---
async def stream_messages(js, stream: str, subject: str = ">") -> list:
    """Every message of `stream` on `subject`, in order (read with direct gets)."""
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        with contextlib.suppress(Exception):
            msg = await js.get_msg(stream, seq)
            if subject == ">" or _matches(subject, msg.subject):
                out.append(msg)
    return out


def _matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def duplicates(ids: list[str]) -> dict[str, int]:
    return {key: n for key, n in Counter(ids).items() if n > 1}


async def subject_count(js, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def wait_for(predicate: Callable[[], Awaitable[object] | object], timeout_s: float, what: str, interval_s: float = 0.1):
    """Poll predicate (sync or async) until it is truthy; its value is returned."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        await asyncio.sleep(interval_s)


@dataclass
class Seen:
    """A hub-side consumer's view of the up-link: every event id its handler got."""

    event_ids: list[str] = field(default_factory=list)
    service: object = None

    async def handle(self, event, ctx) -> None:
        self.event_ids.append(ctx.event_id)


def obj_chunk_count(info: api.StreamInfo) -> int:
    return sum(n for subject, n in (info.state.subjects or {}).items() if ".C." in subject)
