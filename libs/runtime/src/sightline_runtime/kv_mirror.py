"""Follow a JetStream KV bucket into local state.

Services mirror small buckets (the device registry, glossaries) so a hot
path reads a dict, never the KV. `KvFollower` owns the watch: it hands every
entry to `apply` (value None when the key was deleted or purged) and says
when the initial values are in, so a service is ready only with the whole
bucket mirrored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from nats.js.kv import KeyValue


class KvFollower:
    def __init__(self, name: str, apply: Callable[[str, bytes | None], None]) -> None:
        self._name = name
        self._apply = apply
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def start(self, kv: KeyValue) -> None:
        """Start following; returns once the bucket's current values are applied."""
        watcher = await kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name=f"{self._name}-watch")
        await self._synced.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, watcher) -> None:
        try:
            async for entry in watcher:
                if entry is None:  # the initial values are in
                    self._synced.set()
                    continue
                deleted = entry.operation in ("DEL", "PURGE") or not entry.value
                self._apply(entry.key, None if deleted else entry.value)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()
