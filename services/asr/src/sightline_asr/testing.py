"""Speech for tests and benchmarks, made at run time: espeak-ng speaks a
script, sox converts, pads and makes noise. Nothing here downloads anything;
a missing tool raises (tests must fail loudly, never skip)."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

RATE = 16_000

# Varied English: questions, numbers, names, short and long, as a wearer's
# conversation partner might say them.
SENTENCES = (
    "Excuse me, where is the nearest train station?",
    "I would like a cup of coffee with milk, please.",
    "The museum opens at nine in the morning.",
    "Can you tell me how much this jacket costs?",
    "We are meeting our friends at the restaurant tonight.",
    "Turn left at the second traffic light and walk straight ahead.",
    "My phone battery is almost empty.",
    "The weather will be sunny and warm tomorrow afternoon.",
    "Please speak a little more slowly.",
    "How long does the bus take to reach the airport?",
    "This book was written by a famous author from Canada.",
    "Thank you very much for your help today.",
)


class ToolMissing(RuntimeError):
    pass


def require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise ToolMissing(
            f"{', '.join(missing)} not installed: these tests synthesise speech with Debian's espeak-ng and sox "
            "(scripts/install-system-deps.sh installs requirements/apt.txt)"
        )


def synthesize(text: str, path: Path, *, voice: str = "en-us", words_per_minute: int = 160) -> Path:
    """`text` spoken by espeak-ng into a WAV file at `path` (espeak's own rate, 22 050 Hz)."""
    require("espeak-ng")
    command = [str(shutil.which("espeak-ng")), "-v", voice, "-s", str(words_per_minute), "-w", str(path), text]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603 - our own arguments, no shell
    return path


def sox(*args: str) -> None:
    require("sox")
    subprocess.run([str(shutil.which("sox")), *args], check=True, capture_output=True)  # noqa: S603 - our own arguments, no shell


def read_pcm16k(path: Path) -> np.ndarray:
    """A WAV converted by sox to 16 kHz mono int16 (independent of the glasses' own converter)."""
    converted = path.with_suffix(".16k.wav")
    sox(str(path), "-r", str(RATE), "-c", "1", "-b", "16", str(converted))
    with wave.open(str(converted), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").copy()


def speech_pcm(text: str, folder: Path, name: str, **options: object) -> np.ndarray:
    return read_pcm16k(synthesize(text, folder / f"{name}.wav", **options))


def noise_pcm(folder: Path, seconds: float, *, color: str = "white", volume: float = 0.3, name: str = "noise") -> np.ndarray:
    path = folder / f"{name}-{color}.wav"
    sox("-n", "-r", str(RATE), "-c", "1", "-b", "16", str(path), "synth", str(seconds), f"{color}noise", "vol", str(volume))
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").copy()


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def speech_bounds(pcm: np.ndarray, *, threshold: float = 0.01) -> tuple[float, float]:
    """(start, end) seconds of the audible part: where 10 ms frames exceed the
    RMS threshold. The synthesiser's exact timing, for latency measurements."""
    frame = RATE // 100
    usable = pcm[: pcm.size - pcm.size % frame].astype(np.float32) / 32768.0
    rms = np.sqrt((usable.reshape(-1, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > threshold)
    if loud.size == 0:
        return 0.0, 0.0
    return loud[0] * frame / RATE, (loud[-1] + 1) * frame / RATE


def write_wav(path: Path, pcm: np.ndarray, rate: int = RATE, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return path


_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_NUMBERS = dict(enumerate(f"{_ONES} seventeen eighteen nineteen twenty".split(" ")))


def normalize(text: str) -> str:
    """Lower case, digits as words, no punctuation: how WER is scored here."""
    words = []
    for word in re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split():
        words.append(_NUMBERS.get(int(word), word) if word.isdigit() else word.strip("'"))
    return " ".join(w for w in words if w)


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    import jiwer  # noqa: PLC0415 - a test and benchmark dependency only

    return float(jiwer.wer(" ".join(normalize(r) for r in references), " ".join(normalize(h) for h in hypotheses)))
