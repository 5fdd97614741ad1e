"""Apertium: rule-based machine translation (Debian `apertium` + a pair
package such as `apertium-eng-spa`).

Spawning `apertium eng-spa` per request costs ~190 ms on this machine
(a dozen processes load their transducers), the translation itself
2-5 ms. So each mode runs as one long-lived pipeline in null-flush mode:
every stage flushes its output when it reads a NUL byte, and we write
`text + " \\0"` and read up to the next NUL. (The `apertium` wrapper
script cannot be used for this: its txt deformatter path has a
block-buffered `sed` in it.) We take the mode's own command line from
`apertium-wblank-mode -z`, so a pair added later needs no code.

The pipeline is a serial resource, so there is one per lane: partial
captions never queue in front of a final. A pipeline that died is
restarted on the next call (and the batch retried once); one that hangs
past the timeout is killed and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

from sightline_translation.engines import Engine, EngineError, EngineTimeout, Lane
from sightline_translation.languages import Pair

log = logging.getLogger(__name__)

# Characters with a meaning in Apertium's stream format; a backslash makes
# them literal (what apertium-destxt does).
_RESERVED = re.compile(r"([\[\]\\^$/@<>{}*#~+|])")
_ESCAPED = re.compile(r"\\(.)")
_SPACES = re.compile(r"\s+")
_READ_LIMIT = 4 << 20


def escape(text: str) -> bytes:
    text = _SPACES.sub(" ", text.replace("\0", " ")).strip()
    # lt-proc's bilingual stage (lttoolbox 3.7) waits for one more character
    # after a word before it honours the NUL; a trailing blank is that character.
    return _RESERVED.sub(r"\\\1", text).encode() + b" \0"


def unescape(raw: bytes) -> str:
    text = raw.rstrip(b"\0").decode(errors="replace")
    return _SPACES.sub(" ", _ESCAPED.sub(r"\1", text)).strip()


class ApertiumError(EngineError):
    pass


class Pipeline:
    """One running `<mode>` pipeline in null-flush mode."""

    def __init__(self, mode: str, mode_file: Path, *, timeout_s: float) -> None:
        self.mode = mode
        self.mode_file = mode_file
        self.timeout_s = timeout_s
        self.restarts = 0
        self._command: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._stderr_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def _build_command(self) -> str:
        if not self.mode_file.is_file():
            raise ApertiumError(f"apertium mode {self.mode!r} not found at {self.mode_file} (is its language pair package installed?)")
        try:
            proc = await asyncio.create_subprocess_exec(
                "apertium-wblank-mode", "-z", str(self.mode_file), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
        except FileNotFoundError as err:
            raise ApertiumError("apertium-wblank-mode not found: install the Debian package 'apertium'") from err
        out, err_out = await proc.communicate()
        command = out.decode().strip()
        if proc.returncode != 0 or not command:
            raise ApertiumError(f"cannot read apertium mode {self.mode!r}: {err_out.decode(errors='replace').strip()[:300]}")
        return command

    async def start(self) -> None:
        if self._command is None:
            self._command = await self._build_command()
        env = dict(os.environ, LC_ALL="C.UTF-8")
        # $1 = generator option: -n prints no '#'/'*' marks on unknown words;
        # $2 = tagger option: none. A new session lets us kill the whole chain.
        self._proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            self._command,
            "apertium",
            "-n",
            "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
            limit=_READ_LIMIT,
        )
        self._stderr.clear()
        self._stderr_task = asyncio.create_task(self._drain_stderr(self._proc), name=f"apertium-{self.mode}-stderr")

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip())

    async def _collect_stderr(self, within_s: float = 1.0) -> None:
        """A dead process's last words reach the drain task only after it
        exits; wait for them (briefly) before reporting why it died."""
        if self._stderr_task is not None and not self._stderr_task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), within_s)

    def stderr_tail(self) -> str:
        return " | ".join(self._stderr)[-500:]

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task

    async def _exchange(self, texts: Sequence[str]) -> list[str]:
        proc = self._proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        payload = b"".join(escape(t) for t in texts)

        async def write() -> None:
            proc.stdin.write(payload)
            await proc.stdin.drain()

        # Written concurrently with reading: a large batch would otherwise
        # fill both pipe buffers and deadlock.
        writer = asyncio.create_task(write())
        try:
            results = [unescape(await proc.stdout.readuntil(b"\0")) for _ in texts]
            await writer
        finally:
            if not writer.done():
                writer.cancel()
        return results

    async def translate(self, texts: Sequence[str]) -> list[str]:
        async with self._lock:
            for attempt in (1, 2):
                if not self.alive:
                    await self.stop()
                    await self.start()
                    self.restarts += 1
                try:
                    async with asyncio.timeout(self.timeout_s):
                        return await self._exchange(texts)
                except TimeoutError:
                    await self.stop()
                    raise EngineTimeout(f"apertium {self.mode} took over {self.timeout_s:g}s; pipeline killed") from None
                except (asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError) as err:
                    # The process died (crash or killed): restart once and retry.
                    await self._collect_stderr()
                    detail = self.stderr_tail()
                    await self.stop()
                    log.warning(
                        "apertium pipeline died; restarting",
                        extra={"mode": self.mode, "attempt": attempt, "error": type(err).__name__, "stderr": detail},
                    )
                    if attempt == 2:
                        raise ApertiumError(f"apertium {self.mode} failed twice: {detail or type(err).__name__}") from None
        raise AssertionError("unreachable")


class ApertiumEngine(Engine):
    name = "apertium"

    def __init__(self, modes: Mapping[Pair, str], *, data_dir: Path, timeout_s: float = 5.0) -> None:
        super().__init__(modes)
        self.modes = dict(modes)
        self.data_dir = data_dir
        self.pipelines: dict[tuple[Pair, Lane], Pipeline] = {
            (pair, lane): Pipeline(mode, data_dir / "modes" / f"{mode}.mode", timeout_s=timeout_s)
            for pair, mode in modes.items()
            for lane in Lane
        }
        self._started = False

    async def start(self) -> None:
        for (pair, lane), pipeline in self.pipelines.items():
            await pipeline.start()
            # The first call loads the transducers; do it now, not on a caption.
            probe = await pipeline.translate(["hello"])
            if not probe or not probe[0]:
                raise ApertiumError(f"apertium {pipeline.mode} answered the start-up probe with nothing: {pipeline.stderr_tail()}")
            pipeline.restarts = 0
            log.info("apertium pipeline ready", extra={"pair": str(pair), "mode": pipeline.mode, "lane": lane.value, "probe": probe[0]})
        self._started = True

    async def close(self) -> None:
        for pipeline in self.pipelines.values():
            await pipeline.stop()
        self._started = False

    def healthy(self) -> bool:
        return self._started

    @property
    def restarts(self) -> int:
        return sum(p.restarts for p in self.pipelines.values())

    async def translate(self, texts: Sequence[str], pair: Pair, *, lane: Lane = Lane.FINAL) -> list[str]:
        pipeline = self.pipelines.get((pair, lane))
        if pipeline is None:
            raise ApertiumError(f"apertium has no mode for {pair}")
        if not texts:
            return []
        return await pipeline.translate(texts)
