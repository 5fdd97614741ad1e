"""Speech for the demo's `say` steps, synthesised offline by Debian's espeak-ng."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

# espeak-ng voice per BCP-47 language where the plain code is not the best one.
VOICES = {"en": "en-us", "zh": "cmn"}


class SpeechUnavailable(RuntimeError):
    pass


def voice_for(language: str) -> str:
    return VOICES.get(language, language or "en-us")


async def synthesise(text: str, path: Path, *, voice: str = "en-us", words_per_minute: int = 150) -> Path:
    """`text` spoken into a WAV file at `path` (espeak-ng's own 22 050 Hz mono)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechUnavailable("espeak-ng is not installed (Debian package espeak-ng; see requirements/apt.txt)")
    process = await asyncio.create_subprocess_exec(
        binary,
        "-v",
        voice,
        "-s",
        str(words_per_minute),
        "-w",
        str(path),
        "--",
        text,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise SpeechUnavailable(f"espeak-ng failed ({process.returncode}): {stderr.decode(errors='replace').strip()}")
    return path
