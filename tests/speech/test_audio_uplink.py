"""The glasses' microphone up-link: any PCM WAV becomes 16 kHz mono frames
of 20 ms on glasses.<device>.up.audio at real-time pace; a bad file is a
clear error (and exit code 2 from `sightline glasses --say`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import nats
import numpy as np
import pytest
from sightline.v1.audio_pb2 import AudioEncoding, AudioFrame
from sightline_asr import testing
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.audio import AudioFileError, read_wav
from sightline_overlay.app import create_service as create_overlay
from sightline_overlay.settings import OverlaySettings
from sightline_runtime.processes import free_port

from tests.speech.conftest import running

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


def tone_wav(tmp_path, name: str, *, rate: int, channels: int, bits: int, seconds: float = 1.0, encoding: str = "signed-integer"):
    path = tmp_path / f"{name}.wav"
    testing.sox(
        "-n", "-r", str(rate), "-c", str(channels), "-b", str(bits), "-e", encoding, str(path), "synth", str(seconds), "sine", "440"
    )
    return path


@pytest.mark.parametrize(
    ("rate", "channels", "bits", "encoding"),
    [
        (44_100, 2, 16, "signed-integer"),
        (8_000, 1, 8, "unsigned-integer"),
        (48_000, 1, 24, "signed-integer"),
        (22_050, 2, 32, "signed-integer"),
        (16_000, 1, 16, "signed-integer"),
        (48_000, 6, 32, "floating-point"),
    ],
)
def test_any_pcm_wav_becomes_16_khz_mono_16_bit(tmp_path, rate, channels, bits, encoding):
    pcm = read_wav(tone_wav(tmp_path, "tone", rate=rate, channels=channels, bits=bits, encoding=encoding))
    assert pcm.dtype == np.int16
    assert abs(pcm.size - 16_000) <= 16, "duration kept"
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float32)))
    assert abs(np.argmax(spectrum) * 16_000 / pcm.size - 440) <= 2, "the tone is still 440 Hz"
    assert 0.5 * 32767 < np.abs(pcm).max() <= 32767, "level kept, no clipping wrap-around"


def test_bad_files_raise_a_clear_error(tmp_path):
    (tmp_path / "text.wav").write_text("hello, not audio")
    good = tone_wav(tmp_path, "good", rate=16_000, channels=1, bits=16)
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[:10_000])
    (tmp_path / "header.wav").write_bytes(good.read_bytes()[:30])
    cases = {
        "text.wav": "no RIFF/WAVE header",
        "cut.wav": "truncated",
        "header.wav": "not a readable PCM WAV",
        "missing.wav": "no such file",
        tone_wav(tmp_path, "adpcm", rate=16_000, channels=1, bits=4, encoding="ms-adpcm").name: "format 0x0002",
    }
    for name, words in cases.items():
        with pytest.raises(AudioFileError, match=words):
            read_wav(tmp_path / name)


def test_sightline_glasses_say_refuses_a_bad_file_with_exit_code_2(tmp_path):
    (tmp_path / "bad.wav").write_text("not audio")
    for args in (
        ["--say", str(tmp_path / "bad.wav")],
        ["--say", str(tmp_path / "none.wav")],
        ["--say", str(tmp_path / "bad.wav"), "--to", "fr"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "sightline_cli", "glasses", "-d", "g1", "--server", "nats://127.0.0.1:9", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "error:" in done.stderr


@MODULE_LOOP
async def test_frames_leave_at_real_time_pace_with_their_stream_metadata(hub, corpus):
    client = await nats.connect(hub.url)
    frames: list[tuple[float, AudioFrame]] = []

    async def heard(msg) -> None:
        frames.append((time.monotonic(), AudioFrame.FromString(msg.data)))

    await client.subscribe("glasses.uplink.up.audio.*", cb=heard)  # the hub maps it onto a partition
    await client.flush()
    pcm = read_wav(corpus[0].wav)
    async with GlassesAgent.connect("uplink", hub.url) as glasses:
        started = time.monotonic()
        stream_id = await glasses.say(corpus[0].wav, source_language="en", target_language="zh")
        took = time.monotonic() - started
    await asyncio.sleep(0.2)
    await client.drain()
    assert len(frames) == -(-pcm.size // 320)
    assert abs(took - pcm.size / 16_000) < 0.25, "real-time pace"
    events = [f for _, f in frames]
    assert all(len(f.data) == 640 for f in events[:-1]), "20 ms frames"
    assert [f.end_of_stream for f in events] == [False] * (len(events) - 1) + [True]
    assert {(f.stream_id, f.source_language, f.target_language) for f in events} == {(stream_id, "en", "zh")}
    assert {(f.encoding, f.sample_rate_hz, f.channels) for f in events} == {(AudioEncoding.AUDIO_ENCODING_PCM_S16LE, 16_000, 1)}
    seqs = [f.meta.seq for f in events]
    assert seqs == sorted(set(seqs))
    assert np.array_equal(np.frombuffer(b"".join(f.data for f in events), dtype="<i2"), pcm)


@pytest.mark.slow
@MODULE_LOOP
async def test_sightline_glasses_say_prints_live_captions(asr, hub, devices, corpus, tmp_path):
    """The CLI end to end: --say plays the file, asr transcribes it, the overlay
    turns the transcripts into caption display updates, --jsonl prints them."""
    await devices.add("cli-glasses")
    overlay = create_overlay(OverlaySettings(nats_url=hub.url, http_port=free_port(), http_host="127.0.0.1"))
    async with running(overlay):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            # The default mode: the glasses run their own edge nats-server, a leaf of the hub.
            *["-m", "sightline_cli", "glasses", "-d", "cli-glasses", "--server", hub.url, "--leaf-url", hub.leafnode_url],
            *["--state-dir", str(tmp_path / "state")],
            *["--say", str(corpus[1].wav), "--from", "en", "--to", "es", "--jsonl", "--idle-timeout", "3"],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    updates = [json.loads(line) for line in stdout.decode().splitlines()]
    captions = [u["caption"]["entries"][-1] for u in updates if u.get("region") == "HUD_REGION_CAPTION"]
    assert captions, updates
    assert any(not c.get("isFinal") for c in captions), "partials were shown while speaking"
    final = captions[-1]
    assert final.get("isFinal")
    shown = " ".join(final["source"]["lines"])
    assert testing.word_error_rate([corpus[1].text], [shown]) <= 0.25, shown
