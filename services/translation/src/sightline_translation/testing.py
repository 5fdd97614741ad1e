"""Test helpers: the bus as the asr service and the overlay see it. For
tests and the benchmark only.

The OpenAI-compatible engine is tested against a real small model
(sightline_runtime's `llm_server` fixture) and, for its failures, the
fault-injecting proxy in front of it (`llm_proxy`), not a stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sightline.v1.asr_pb2 import Transcript
from sightline.v1.translation_pb2 import Translation
from sightline_runtime import subjects
from sightline_runtime.events import event_headers, new_meta


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
