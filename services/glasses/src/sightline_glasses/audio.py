"""The glasses' microphone up-link: WAV files in, AudioFrames out.

Audio leaves the glasses as 16 kHz mono signed 16-bit PCM in 20-40 ms
frames on `glasses.<device>.up.audio` (core NATS: raw audio is never
stored), at real-time pace as a microphone would deliver it. A WAV of any
rate, channel count and integer sample width is converted first (channels
averaged, resampled with soxr); anything that is not a readable PCM WAV
raises AudioFileError with the reason.
"""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path

import numpy as np
import soxr
from nats.aio.client import Client
from sightline.v1.audio_pb2 import AudioEncoding, AudioFrame
from sightline_runtime import subjects
from sightline_runtime.events import HybridClock, event_headers, new_event_id, new_meta
from sightline_runtime.telemetry import inject_headers

RATE = 16_000
PRODUCER = "glasses"


class AudioFileError(ValueError):
    """The file is not a WAV this up-link can read."""


def read_wav(path: str | Path) -> np.ndarray:
    """The file's audio as 16 kHz mono int16."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate, count = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
            data = wav.readframes(count)
    except (wave.Error, EOFError) as err:
        raise AudioFileError(f"{path}: not a readable PCM WAV file ({err or 'it ends early'})") from None
    if channels < 1 or rate < 1000:
        raise AudioFileError(f"{path}: implausible WAV header ({channels} channels at {rate} Hz)")
    if len(data) < count * channels * width:
        raise AudioFileError(f"{path}: truncated: the header promises {count} frames, the file holds {len(data) // (channels * width)}")
    return to_pcm16k(decode_pcm(data, width).reshape(-1, channels), rate)


def decode_pcm(data: bytes, width: int) -> np.ndarray:
    """Interleaved little-endian PCM of `width` bytes per sample as float32 in [-1, 1]."""
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float32) / float(1 << 23)
    if width == 4:
        return (np.frombuffer(data, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    raise AudioFileError(f"unsupported sample width of {width} bytes")


def to_pcm16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """(frames, channels) float in [-1, 1] at `rate` -> 16 kHz mono int16."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if rate != RATE:
        mono = soxr.resample(mono.astype(np.float32), rate, RATE, quality="HQ")
    return (np.clip(mono, -1.0, 1.0) * 32767.0).round().astype(np.int16)


class AudioUplink:
    """One microphone session (one stream_id) of a device."""

    def __init__(
        self,
        nc: Client,
        device_id: str,
        *,
        source_language: str = "en",
        target_language: str = "",
        frame_ms: int = 20,
        stream_id: str | None = None,
        clock: HybridClock | None = None,
    ) -> None:
        if not 20 <= frame_ms <= 40:
            raise ValueError("frames are 20-40 ms long")
        self.nc = nc
        self.device_id = subjects.check_device_id(device_id)
        self.subject = subjects.up_audio(device_id)
        self.source_language = source_language
        self.target_language = target_language
        self.frame_samples = RATE * frame_ms // 1000
        self.stream_id = stream_id or new_event_id()
        self.clock = clock or HybridClock()
        self.frames_sent = 0
        self.ended = False
        self._next_due: float | None = None

    def _frame(self, pcm: np.ndarray, *, end: bool) -> AudioFrame:
        return AudioFrame(
            meta=new_meta(self.device_id, PRODUCER, seq=self.clock.next("audio")),
            stream_id=self.stream_id,
            encoding=AudioEncoding.AUDIO_ENCODING_PCM_S16LE,
            sample_rate_hz=RATE,
            channels=1,
            data=pcm.astype("<i2").tobytes(),
            end_of_stream=end,
            source_language=self.source_language,
            target_language=self.target_language,
        )

    async def send(self, pcm: np.ndarray, *, end_of_stream: bool = False, realtime: bool = True, speed: float = 1.0) -> None:
        """Publish `pcm` frame by frame; with realtime, each frame leaves when a
        microphone would have finished recording it (no drift over long files).
        speed > 1 plays faster than real time (tests; the asr allows up to 2x)."""
        if self.ended:
            raise RuntimeError("this audio stream has ended; start a new one")
        count = max(1, -(-pcm.size // self.frame_samples)) if end_of_stream else -(-pcm.size // self.frame_samples)
        step = self.frame_samples / RATE
        for index in range(count):
            chunk = pcm[index * self.frame_samples : (index + 1) * self.frame_samples]
            if realtime:
                now = time.monotonic()
                if self._next_due is None or self._next_due < now - 1.0:
                    self._next_due = now  # (re)start the clock after an idle gap
                self._next_due += (chunk.size / RATE if chunk.size else step) / speed
                await asyncio.sleep(max(0.0, self._next_due - time.monotonic()))
            frame = self._frame(chunk, end=end_of_stream and index == count - 1)
            await self.nc.publish(self.subject, frame.SerializeToString(), headers=inject_headers(event_headers(frame)))
            self.frames_sent += 1
        if end_of_stream:
            self.ended = True
            await self.nc.flush()

    async def end(self) -> None:
        """Close the session with an empty end_of_stream frame."""
        await self.send(np.zeros(0, dtype=np.int16), end_of_stream=True, realtime=False)
