"""Fair scheduling of inference across devices.

Devices with work wait in one round-robin queue; a worker takes the device
at the head, runs exactly one of its jobs, and puts it back at the tail if
it has more. So a device never has two inferences in flight, and a device
that talks (or floods) without pause gets one turn per round like every
other: it cannot starve the rest. Which job a device runs next (final,
final candidate, or its newest partial) is the device's own choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Work(Protocol):
    def next_job(self) -> Job | None: ...

    @property
    def has_work(self) -> bool: ...


class FairScheduler:
    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._ready: deque[Hashable] = deque()
        self._work: dict[Hashable, Work] = {}
        self._running: set[Hashable] = set()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def notify(self, key: Hashable, work: Work) -> None:
        """`work` (of device `key`) may have a job to run."""
        self._work[key] = work
        if key not in self._running and key not in self._ready:
            self._ready.append(key)
            self._wakeup.set()

    def forget(self, key: Hashable) -> None:
        """Drop a device's queued turn (its stream was closed)."""
        with contextlib.suppress(ValueError):
            self._ready.remove(key)
        if key not in self._running:
            self._work.pop(key, None)

    @property
    def queued(self) -> int:
        return len(self._ready)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(), name=f"asr-inference-{i}") for i in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _worker(self) -> None:
        while True:
            while not self._ready:
                self._wakeup.clear()
                await self._wakeup.wait()
            key = self._ready.popleft()
            work = self._work.get(key)
            job = work.next_job() if work is not None else None
            if job is None:
                self._work.pop(key, None)
                continue
            self._running.add(key)
            try:
                await job()
            except Exception:
                # A job reports its own failures; this only keeps the worker alive.
                log.exception("inference job failed")
            finally:
                self._running.discard(key)
            if self._work.get(key) is not work:
                continue
            if work.has_work:
                self.notify(key, work)
            else:
                del self._work[key]  # notify() registers it again when work comes
