"""The glasses' microphone up-link: WAV files in, AudioFrames out.

Audio leaves the glasses as 16 kHz mono signed 16-bit PCM in 20-40 ms
frames on `glasses.<device>.up.audio` (core NATS: raw audio is never
stored), at real-time pace as a microphone would deliver it. A WAV of any
rate, channel count and sample format (8/16/24/32-bit integer, 32/64-bit
float, plain or extensible header) is converted first (channels averaged,
resampled with soxr); anything else raises AudioFileError with the reason.
"""

from __future__ import annotations

import asyncio
import struct
import time
from pathlib import Path

import numpy as np
import soxr
from nats.aio.client import Client
from sightline.v1.audio_pb2 import AudioEncoding, AudioFrame
from sightline_runtime import subjects
from sightline_runtime.events import HybridClock, event_headers, new_event_id, new_meta
from sightline_runtime.telemetry import inject_headers

from sightline_glasses.conversation import Conversation

RATE = 16_000
PRODUCER = "glasses"


class AudioFileError(ValueError):
    """The file is not a WAV this up-link can read."""


# WAVE format tags: integer PCM, IEEE float, and the extensible header that
# carries one of those in its sub-format (sox writes it for 8/24/32-bit files).
PCM, FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE


def read_wav(path: str | Path) -> np.ndarray:
    """The file's audio as 16 kHz mono int16."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        samples, rate = parse_wav(path.read_bytes())
    except AudioFileError as err:
        raise AudioFileError(f"{path}: {err}") from None
    return to_pcm16k(samples, rate)


def parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """(frames x channels float32 in [-1, 1], sample rate) of a RIFF/WAVE file.
    Python's wave module reads neither float nor extensible WAVs, hence this."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioFileError("not a readable PCM WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = data[offset + 8 : offset + 8 + size]
        if chunk == b"fmt ":
            if len(body) < 16:
                raise AudioFileError("not a readable PCM WAV file (short fmt chunk)")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]  # first bytes of the sub-format GUID
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if fmt is None:
                raise AudioFileError("not a readable PCM WAV file (data before fmt)")
            tag, channels, rate, bits = fmt
            if tag not in (PCM, FLOAT) or (tag == FLOAT and bits not in (32, 64)) or bits not in (8, 16, 24, 32, 64):
                raise AudioFileError(f"not a readable PCM WAV file (format {tag:#06x}, {bits} bits: use integer PCM or float)")
            if channels < 1 or rate < 1000:
                raise AudioFileError(f"implausible WAV header ({channels} channels at {rate} Hz)")
            width = bits // 8
            if len(body) < size:
                raise AudioFileError(f"truncated: the header promises {size} bytes of audio, the file holds {len(body)}")
            usable = len(body) - len(body) % (width * channels)
            return decode_pcm(body[:usable], width, floating=tag == FLOAT).reshape(-1, channels), rate
        offset += 8 + size + (size & 1)  # chunks are word-aligned
    raise AudioFileError("not a readable PCM WAV file (no audio data)" if fmt else "not a readable PCM WAV file (no fmt chunk)")


def decode_pcm(data: bytes, width: int, *, floating: bool = False) -> np.ndarray:
    """Interleaved little-endian samples of `width` bytes as float32 in [-1, 1]."""
    if floating:
        return np.frombuffer(data, dtype="<f4" if width == 4 else "<f8").astype(np.float32)
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
    """One microphone session (one stream_id) of a device.

    Its languages are read from `conversation` at every frame. When they
    change mid-session, the next frame starts a new stream_id: the asr takes
    a stream's languages from its first frame and finalizes the utterance in
    progress when a new stream replaces it, so the change reaches the
    captions at once and what was said before keeps its own languages."""

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
        conversation: Conversation | None = None,
    ) -> None:
        if not 20 <= frame_ms <= 40:
            raise ValueError("frames are 20-40 ms long")
        self.nc = nc
        self.device_id = subjects.check_device_id(device_id)
        self.subject = subjects.up_audio(device_id)
        # Without a conversation of the agent's, the languages given are fixed for the session.
        self.conversation = conversation or Conversation(source_language, target_language)
        self._version = self.conversation.version
        self.frame_samples = RATE * frame_ms // 1000
        self.stream_id = stream_id or new_event_id()
        self.clock = clock or HybridClock()
        self.frames_sent = 0
        self.ended = False
        self._next_due: float | None = None

    @property
    def source_language(self) -> str:
        return self.conversation.current.source

    @property
    def target_language(self) -> str:
        return self.conversation.current.target

    def _frame(self, pcm: np.ndarray, *, end: bool) -> AudioFrame:
        if self.conversation.version != self._version:
            self._version = self.conversation.version
            if self.frames_sent:
                self.stream_id = new_event_id()
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
