"""Runs an engine off the event loop on `workers` workers at once: threads
when inference releases the GIL (ONNX Runtime), processes when it does not
(PocketSphinx), so the loop keeps taking frames while models run.

Threads share one loaded engine: an ONNX Runtime session may be run from
several threads at once, and with one intra-op thread each run computes on
its caller's thread, so two workers use two cores with one copy of the
weights. Each worker process loads its own engine.

Two workers of one thread each is the default for a 2-core node (measured
in docs/asr.md against one worker of two threads, and one of one).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from sightline_asr.engines import AsrEngine, EngineError, Hypothesis, make_engine

log = logging.getLogger(__name__)

_worker_engine: AsrEngine | None = None


def _exit_with_parent(parent: int) -> None:
    """A worker process whose service died (SIGKILL, or a SIGTERM that ended
    it before its pool shut down) would wait for work forever: it ends too."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _load_in_worker(kind: str, threads: int, parent: int) -> None:
    global _worker_engine  # noqa: PLW0603 - the worker process's one engine
    threading.Thread(target=_exit_with_parent, args=(parent,), name="exit-with-parent", daemon=True).start()
    _worker_engine = make_engine(kind, threads=threads)
    _worker_engine.load()


def _ping_in_worker() -> int | None:
    time.sleep(0.05)  # long enough that concurrent pings reach different processes
    return os.getpid() if _worker_engine is not None else None


def _timed(engine: AsrEngine, audio: np.ndarray, hint: Hypothesis | None) -> tuple[Hypothesis, float]:
    """Run in the worker: the seconds are the inference's own, not its wait for a worker."""
    started = time.perf_counter()
    result = engine.transcribe(audio, hint)
    return result, time.perf_counter() - started


def _transcribe_in_worker(audio: np.ndarray, hint: Hypothesis | None) -> tuple[Hypothesis, float]:
    assert _worker_engine is not None, "engine not loaded in this worker"
    return _timed(_worker_engine, audio, hint)


class EngineRunner:
    def __init__(self, kind: str, *, threads: int = 1, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.kind = kind
        self.threads = threads
        # Inferences that may run at once; set before load() (the asr handlers
        # set it from AsrSettings.asr_workers, to match their scheduler).
        self.workers = workers
        self.engine = make_engine(kind, threads=threads)
        self.name = self.engine.name
        self.language = self.engine.language
        self.loaded = False
        self._executor: concurrent.futures.Executor | None = None

    async def load(self) -> None:
        """Load the model once (in the worker that will use it)."""
        loop = asyncio.get_running_loop()
        if self.engine.releases_gil:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"asr-{self.kind}")
            await loop.run_in_executor(self._executor, self.engine.load)
        else:
            await self._start_processes(loop)
        self.loaded = True

    async def _start_processes(self, loop: asyncio.AbstractEventLoop) -> None:
        # spawn: a forked copy of a process with NATS sockets and threads is unsafe.
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_in_worker,
            initargs=(self.kind, self.threads, os.getpid()),
        )
        # Processes start (and load the model) on demand; ping until every one
        # has, so no wearer's words wait for a model to load.
        ready: set[int] = set()
        deadline = time.monotonic() + 120
        while len(ready) < self.workers:
            pings = [loop.run_in_executor(self._executor, _ping_in_worker) for _ in range(self.workers)]
            pids = await asyncio.gather(*pings)
            if None in pids:
                raise EngineError(f"{self.kind} did not load in its worker process")
            ready.update(pid for pid in pids if pid is not None)
            if time.monotonic() > deadline:
                raise EngineError(f"only {len(ready)} of {self.workers} {self.kind} worker processes started")

    async def transcribe(self, audio: np.ndarray, hint: Hypothesis | None = None) -> tuple[Hypothesis, float]:
        """(hypothesis, seconds of inference)."""
        assert self._executor is not None, "load() first"
        loop = asyncio.get_running_loop()
        if self.engine.releases_gil:
            return await loop.run_in_executor(self._executor, _timed, self.engine, audio, hint)
        executor = self._executor
        try:
            return await loop.run_in_executor(executor, _transcribe_in_worker, audio, hint)
        except BrokenProcessPool as err:
            # A worker died (out of memory, a native crash): start new ones so
            # the next utterance works, and fail only the inferences in flight
            # (the first of them to get here restarts the pool).
            if self._executor is executor:
                log.error("ASR worker process died; starting new ones", extra={"engine": self.name})
                self.loaded = False
                executor.shutdown(wait=False, cancel_futures=True)
                await self._start_processes(loop)
                self.loaded = True
            raise EngineError(f"{self.name} worker process died") from err

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self.loaded = False
