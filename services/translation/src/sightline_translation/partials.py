"""Partial captions, cheaply: latest wins per utterance.

ASR sends a partial transcript of the utterance so far every few hundred
milliseconds, sometimes in bursts. Each one replaces the last, so only the
newest is worth translating. Per utterance:
- the first partial is translated at once (a caption appears quickly);
- while a translation runs, or within `min_interval_s` of the last engine
  call, newer partials wait in a single slot, each replacing the one
  before (the replaced one is counted as skipped);
- when the utterance's final arrives, the waiting partial is dropped and a
  partial translation still running is not published (the final wins);
- partials older than the newest seen (by revision) are dropped.
So a burst of N partials costs at most ~2 engine calls per interval.

Work runs in background tasks, never in the consumer of finals, and at
most `max_concurrency` partial translations run at once across devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Job = Any
Run = Callable[[Hashable, Job], Awaitable[None]]


@dataclass
class _Utterance:
    newest_revision: int = -1
    pending: Job | None = None
    last_call: float = float("-inf")
    worker: asyncio.Task[None] | None = None
    finalized: bool = False


class PartialCoalescer:
    def __init__(
        self,
        run: Run,
        *,
        min_interval_s: float = 0.2,
        max_concurrency: int = 4,
        max_utterances: int = 10_000,
        on_skip: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._run = run
        self.min_interval_s = min_interval_s
        self._slots = asyncio.Semaphore(max_concurrency)
        self.max_utterances = max_utterances
        self._on_skip = on_skip
        self._utterances: OrderedDict[Hashable, _Utterance] = OrderedDict()
        self.engine_calls = 0

    def _state(self, key: Hashable) -> _Utterance:
        state = self._utterances.pop(key, None) or _Utterance()
        self._utterances[key] = state  # most recently active last
        while len(self._utterances) > self.max_utterances:
            oldest_key, oldest = next(iter(self._utterances.items()))
            if oldest.worker is not None and not oldest.worker.done():
                break  # never forget an utterance that is being worked on
            del self._utterances[oldest_key]
        return state

    def submit(self, key: Hashable, revision: int, job: Job) -> bool:
        """Queue `job` as the newest partial of utterance `key`; False if dropped."""
        state = self._state(key)
        if state.finalized:
            self._on_skip("finalized")
            return False
        if revision <= state.newest_revision:
            self._on_skip("stale")
            return False
        state.newest_revision = revision
        if state.pending is not None:
            self._on_skip("superseded")
        state.pending = job
        if state.worker is None or state.worker.done():
            state.worker = asyncio.create_task(self._work(key, state), name="translation-partial")
        return True

    def finalize(self, key: Hashable) -> None:
        """The final of `key` is being translated: partials are history."""
        state = self._state(key)
        state.finalized = True
        if state.pending is not None:
            state.pending = None
            self._on_skip("finalized")

    def is_current(self, key: Hashable) -> bool:
        """Whether a partial result for `key` may still be published."""
        state = self._utterances.get(key)
        return state is not None and not state.finalized

    async def _work(self, key: Hashable, state: _Utterance) -> None:
        while state.pending is not None and not state.finalized:
            wait = state.last_call + self.min_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # a newer partial may have replaced the pending one meanwhile
            job, state.pending = state.pending, None
            async with self._slots:
                if state.finalized:
                    break
                state.last_call = time.monotonic()
                self.engine_calls += 1
                try:
                    await self._run(key, job)
                except Exception:
                    # The caller's run() logs and counts its own failures;
                    # this only keeps one bad partial from ending the worker.
                    log.exception("partial translation failed")

    async def close(self) -> None:
        workers = [s.worker for s in self._utterances.values() if s.worker is not None and not s.worker.done()]
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
