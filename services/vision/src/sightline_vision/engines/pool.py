"""A pool of engine instances, for engines whose Python wrappers keep state
between the steps of one call (so two threads must not share one)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class InstancePool(Generic[T]):
    """Lends each caller an instance of its own; builds another only when
    every instance is in use, so the pool grows to the number of threads
    that call at once (the service's analysis workers) and no further."""

    def __init__(self, build: Callable[[], T], *, warm: int = 1) -> None:
        self._build = build
        self._idle: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.size = 0
        for _ in range(warm):
            self._idle.put(self._new())

    def _new(self) -> T:
        instance = self._build()
        with self._lock:
            self.size += 1
        return instance

    @contextlib.contextmanager
    def lend(self) -> Iterator[T]:
        try:
            instance = self._idle.get_nowait()
        except queue.Empty:
            instance = self._new()
        try:
            yield instance
        finally:
            self._idle.put(instance)
