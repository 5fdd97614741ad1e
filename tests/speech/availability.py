"""Helpers of the caption-availability tests: the overlay with its presence
tracker, a watch on one device's HUD, speech sent as the glasses send it,
and an asr replica in a process of its own (to be killed for real)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion
from sightline_asr import testing
from sightline_glasses.audio import AudioUplink
from sightline_overlay.app import create_service
from sightline_overlay.domain.availability import CAPTIONS_NOTICE_ID
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import partitions, subjects
from sightline_runtime.processes import free_port
from sightline_runtime.service import Service

NOTICE = CAPTIONS_NOTICE_ID


def overlay_service(url: str, **overrides: object) -> Service:
    """The overlay as it runs: its presence tracker opened by the runtime from its bus declaration."""
    return create_service(OverlaySettings(nats_url=url, http_port=free_port(), http_host="127.0.0.1", **overrides))


def audio_subject(device_id: str) -> str:
    return f"{subjects.up_audio(device_id)}.{partitions.partition_of(device_id)}"


def device_in_partition(parity: int, prefix: str) -> str:
    """A device id whose audio partition is even (0) or odd (1)."""
    for n in range(1000):
        device = f"{prefix}-{n}"
        if partitions.partition_of(device) % 2 == parity:
            return device
    raise AssertionError("no such device id")


def has_notice(update: DisplayUpdate) -> bool:
    return update.WhichOneof("content") == "caption" and any(e.utterance_id == NOTICE for e in update.caption.entries)


def finals_of(update: DisplayUpdate) -> list[str]:
    """The final speech entries a caption update shows, as text."""
    if update.WhichOneof("content") != "caption":
        return []
    return [" ".join(e.source.lines).removeprefix("…") for e in update.caption.entries if e.is_final and e.utterance_id != NOTICE]


@dataclass
class Hud:
    """Every caption-region update one device receives, as it arrives."""

    device_id: str
    updates: list[tuple[float, DisplayUpdate]] = field(default_factory=list)

    async def start(self, nc) -> Hud:
        async def on_update(msg) -> None:
            update = DisplayUpdate.FromString(msg.data)
            if update.region == HudRegion.HUD_REGION_CAPTION:
                self.updates.append((time.monotonic(), update))

        self._sub = await nc.subscribe(subjects.down_display(self.device_id), cb=on_update)
        await nc.flush()
        return self

    async def stop(self) -> None:
        await self._sub.unsubscribe()

    async def wait(self, predicate, *, after: float = 0.0, timeout_s: float = 10.0) -> tuple[float, DisplayUpdate]:
        """The first update received at or after `after` (monotonic) that satisfies `predicate`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for at, update in self.updates:
                if at >= after and predicate(update):
                    return at, update
            await asyncio.sleep(0.01)
        shown = [(round(at - after, 2), str(u.WhichOneof("content")), finals_of(u), has_notice(u)) for at, u in self.updates if at >= after]
        raise AssertionError(f"{self.device_id}: no such caption update in {timeout_s} s; received {shown}")

    def since(self, after: float) -> list[DisplayUpdate]:
        return [u for at, u in self.updates if at >= after]


async def speak(nc, device_id: str, pcm: np.ndarray, *, target_language: str = "") -> None:
    """One microphone session in real time, as the glasses send it."""
    uplink = AudioUplink(nc, device_id, source_language="en", target_language=target_language)
    padded = np.concatenate([testing.silence(0.3), pcm, testing.silence(1.0)])
    await uplink.send(padded, end_of_stream=True)


def words_heard(expected: str, shown: str) -> float:
    """Word error rate of one caption against what was said."""
    return testing.word_error_rate([expected], [shown])


class AsrProcess:
    """`python -m sightline_asr` as its own process: kill -9 is a real crash
    (no goodbye beat, the connection just dies)."""

    def __init__(self, url: str, log_path: Path, *, instance: str = "asr-proc") -> None:
        env = os.environ | {
            "SIGHTLINE_NATS_URL": url,
            "SIGHTLINE_HTTP_PORT": str(free_port()),
            "SIGHTLINE_HTTP_HOST": "127.0.0.1",
            "SIGHTLINE_INSTANCE": instance,
            "SIGHTLINE_LOG_LEVEL": "WARNING",
        }
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sightline_asr"], env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.log_path = log_path

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]
