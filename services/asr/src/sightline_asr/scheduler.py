"""Fair scheduling of inference across devices.

Devices with work wait in two round-robin queues: `urgent` (a final or a
final candidate is due: the end of speech is waiting on it) and `normal`
(partials). A worker takes the device at the head of the urgent queue, else
of the normal one, runs exactly one of its jobs, and puts it back at the
tail if it has more. So a device never has two inferences in flight, a
device that talks (or floods) without pause gets one turn per round like
every other, and a final never waits behind other devices' partials. Urgent
work cannot starve partials for long: a device has at most one final per
utterance, and utterances need speech plus a pause. Which job a device runs
next is the device's own choice.
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

    @property
    def urgent(self) -> bool: ...


class FairScheduler:
    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._urgent: deque[Hashable] = deque()
        self._normal: deque[Hashable] = deque()
        self._work: dict[Hashable, Work] = {}
        self._running: set[Hashable] = set()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def notify(self, key: Hashable, work: Work) -> None:
        """`work` (of device `key`) may have a job to run."""
        self._work[key] = work
        if key in self._running or key in self._urgent:
            return
        if work.urgent:
            with contextlib.suppress(ValueError):
                self._normal.remove(key)  # promoted: its final must not wait for a partial's turn
            self._urgent.append(key)
        elif key not in self._normal:
            self._normal.append(key)
        self._wakeup.set()

    def forget(self, key: Hashable) -> None:
        """Drop a device's queued turn (its stream was closed)."""
        for queue in (self._urgent, self._normal):
            with contextlib.suppress(ValueError):
                queue.remove(key)
        if key not in self._running:
            self._work.pop(key, None)

    @property
    def queued(self) -> int:
        return len(self._urgent) + len(self._normal)

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
            while not (self._urgent or self._normal):
                self._wakeup.clear()
                await self._wakeup.wait()
            key = (self._urgent or self._normal).popleft()
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
