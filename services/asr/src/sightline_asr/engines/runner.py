"""Runs an engine off the event loop: in one worker thread when inference
releases the GIL (ONNX Runtime), in one worker process when it does not
(PocketSphinx), so the loop keeps taking frames while a model runs.

One worker on purpose: a 2-core node has one core for inference and one for
the loop; more replicas, not more workers, add capacity.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from sightline_asr.engines import AsrEngine, EngineError, Hypothesis, make_engine

log = logging.getLogger(__name__)

_worker_engine: AsrEngine | None = None


def _load_in_worker(kind: str, threads: int) -> None:
    global _worker_engine  # noqa: PLW0603 - the worker process's one engine
    _worker_engine = make_engine(kind, threads=threads)
    _worker_engine.load()


def _ping_in_worker() -> bool:
    return _worker_engine is not None


def _transcribe_in_worker(audio: np.ndarray, hint: Hypothesis | None) -> tuple[Hypothesis, float]:
    assert _worker_engine is not None, "engine not loaded in this worker"
    started = time.perf_counter()
    result = _worker_engine.transcribe(audio, hint)
    return result, time.perf_counter() - started


class EngineRunner:
    def __init__(self, kind: str, *, threads: int = 1) -> None:
        self.kind = kind
        self.threads = threads
        self.engine = make_engine(kind, threads=threads)
        self.name = self.engine.name
        self.language = self.engine.language
        self.loaded = False
        self._executor: concurrent.futures.Executor | None = None

    async def load(self) -> None:
        """Load the model once (in the worker that will use it)."""
        loop = asyncio.get_running_loop()
        if self.engine.releases_gil:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"asr-{self.kind}")
            await loop.run_in_executor(self._executor, self.engine.load)
        else:
            await self._start_process(loop)
        self.loaded = True

    async def _start_process(self, loop: asyncio.AbstractEventLoop) -> None:
        # spawn: a forked copy of a process with NATS sockets and threads is unsafe.
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_in_worker,
            initargs=(self.kind, self.threads),
        )
        # The initializer runs with the first task; make that happen now.
        if not await loop.run_in_executor(self._executor, _ping_in_worker):
            raise EngineError(f"{self.kind} did not load in its worker process")

    async def transcribe(self, audio: np.ndarray, hint: Hypothesis | None = None) -> tuple[Hypothesis, float]:
        """(hypothesis, seconds of inference)."""
        assert self._executor is not None, "load() first"
        loop = asyncio.get_running_loop()
        if self.engine.releases_gil:
            started = time.perf_counter()
            result = await loop.run_in_executor(self._executor, self.engine.transcribe, audio, hint)
            return result, time.perf_counter() - started
        try:
            return await loop.run_in_executor(self._executor, _transcribe_in_worker, audio, hint)
        except BrokenProcessPool as err:
            # The worker died (out of memory, a native crash): start a new one so
            # the next utterance works, and fail only this one.
            log.error("ASR worker process died; starting a new one", extra={"engine": self.name})
            self.loaded = False
            self._executor.shutdown(wait=False, cancel_futures=True)
            await self._start_process(loop)
            self.loaded = True
            raise EngineError(f"{self.name} worker process died") from err

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self.loaded = False
