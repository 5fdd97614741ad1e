"""Fair scheduling of inference across devices, on several workers.

Devices with work wait in three round-robin queues, most pressing first:

  FINAL    a final or a final candidate is due: the end of speech waits on it
  FIRST    the first partial of an utterance: the wearer sees nothing yet
  PARTIAL  a newer partial of an utterance already on screen

A free worker takes the device at the head of the most pressing non-empty
queue, runs exactly one of its jobs, and puts it back at the tail of the
queue its next job belongs in. So a device that talks (or floods) without
pause gets one turn per round like every other, and a final never waits
behind other devices' partials. The higher queues cannot starve the lower
one for long: a device has at most one final and one first partial per
utterance, and utterances need speech plus a pause.

One job per device at a time, with one exception: a FINAL job may run beside
the device's own partial (on another worker), so the end of speech never
waits for a partial that happened to be running when the speaker stopped.
So a device has at most two inferences in flight, and at most one FINAL.
Which job a device runs next is the device's own choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from enum import IntEnum
from typing import Protocol

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class Priority(IntEnum):
    FINAL = 0
    FIRST = 1
    PARTIAL = 2


class Work(Protocol):
    def next_job(self, *, beside: bool) -> Job | None:
        """The device's most pressing job; with `beside` (another of its jobs
        is running) only a FINAL one, else None."""
        ...

    @property
    def priority(self) -> Priority | None:
        """Of the most pressing job the device has, None when it has none."""
        ...


class FairScheduler:
    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        self._queues: tuple[deque[Hashable], ...] = tuple(deque() for _ in Priority)
        self._queued: dict[Hashable, Priority] = {}  # key -> the queue it waits in
        self._work: dict[Hashable, Work] = {}
        self._running: dict[Hashable, list[Priority]] = {}  # key -> priorities of its jobs in flight
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def notify(self, key: Hashable, work: Work) -> None:
        """`work` (of device `key`) may have a job to run."""
        self._work[key] = work
        priority = work.priority
        if priority is None or not self._may_run(key, priority):
            return  # the job in flight re-notifies when it ends
        queued = self._queued.get(key)
        if queued is not None and queued <= priority:
            return
        if queued is not None:
            self._queues[queued].remove(key)  # promoted: its final must not wait for a partial's turn
        self._queues[priority].append(key)
        self._queued[key] = priority
        self._wakeup.set()

    def _may_run(self, key: Hashable, priority: Priority) -> bool:
        running = self._running.get(key)
        if not running:
            return True
        return len(running) == 1 and priority == Priority.FINAL and Priority.FINAL not in running

    def forget(self, key: Hashable) -> None:
        """Drop a device's queued turn (its stream was closed)."""
        queued = self._queued.pop(key, None)
        if queued is not None:
            self._queues[queued].remove(key)
        if key not in self._running:
            self._work.pop(key, None)

    @property
    def queued(self) -> int:
        return len(self._queued)

    @property
    def running(self) -> int:
        return sum(len(jobs) for jobs in self._running.values())

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(), name=f"asr-inference-{i}") for i in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def _pop(self) -> Hashable:
        queue = next(q for q in self._queues if q)
        key = queue.popleft()
        del self._queued[key]
        return key

    async def _worker(self) -> None:
        while True:
            while not self._queued:
                self._wakeup.clear()
                await self._wakeup.wait()
            key = self._pop()
            work = self._work.get(key)
            beside = key in self._running
            priority = work.priority if work is not None else None
            job = work.next_job(beside=beside) if work is not None and priority is not None else None
            if job is None:
                if not beside:
                    self._work.pop(key, None)
                continue
            if beside:
                priority = Priority.FINAL  # next_job(beside=True) returns FINAL jobs only
            self._running.setdefault(key, []).append(priority)
            try:
                await job()
            except Exception:
                # A job reports its own failures; this only keeps the worker alive.
                log.exception("inference job failed")
            finally:
                running = self._running[key]
                running.remove(priority)
                if not running:
                    del self._running[key]
            if self._work.get(key) is not work:
                continue  # forgotten (or replaced) while it ran
            if work.priority is not None:
                self.notify(key, work)
            elif key not in self._running:
                del self._work[key]  # notify() registers it again when work comes
