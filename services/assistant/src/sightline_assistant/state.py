"""Per-device state every assistant replica must agree on, in a KV bucket.

Any replica may take a device's next final, so "the action button opened
command mode", "today's briefing was shown" and "navigation is on" cannot
live in one replica's memory. Values are small JSON documents.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from sightline_assistant.domain.look import PhotoGist


class StateStore(Protocol):
    async def get(self, key: str) -> dict[str, Any] | None: ...
    async def put(self, key: str, value: dict[str, Any]) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def create(self, key: str, value: dict[str, Any]) -> bool:
        """Put only if absent; True when this call created it."""
        ...


class KvState:
    def __init__(self, kv: Any) -> None:
        self.kv = kv

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        try:
            return json.loads(entry.value)
        except ValueError:
            return None

    async def put(self, key: str, value: dict[str, Any]) -> None:
        await self.kv.put(key, json.dumps(value).encode())

    async def delete(self, key: str) -> None:
        try:
            await self.kv.delete(key)
        except KeyNotFoundError:
            return

    async def create(self, key: str, value: dict[str, Any]) -> bool:
        try:
            await self.kv.create(key, json.dumps(value).encode())
        except KeyWrongLastSequenceError:
            return False
        return True


class MemoryState:
    """For one process (faststream's TestNatsBroker has no KV)."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        return self.values.get(key)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self.values[key] = value

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)

    async def create(self, key: str, value: dict[str, Any]) -> bool:
        if key in self.values:
            return False
        self.values[key] = value
        return True


class DeviceState:
    """What the handlers ask of the state, by name."""

    def __init__(self, store: StateStore, *, clock=time.time) -> None:
        self.store = store
        self.clock = clock

    # Command mode: the next final within the window is a command, wake phrase or not.
    async def open_command_mode(self, device_id: str, seconds: float) -> None:
        await self.store.put(f"mode.{device_id}", {"until": self.clock() + seconds})

    async def take_command_mode(self, device_id: str) -> bool:
        """True (once) when command mode is open for the device."""
        value = await self.store.get(f"mode.{device_id}")
        if value is None:
            return False
        await self.store.delete(f"mode.{device_id}")
        return float(value.get("until", 0)) >= self.clock()

    async def first_briefing_of(self, device_id: str, local_date: str) -> bool:
        """True for the one caller that shows the device's briefing for that local day."""
        return await self.store.create(f"briefing.{device_id}.{local_date}", {"at": self.clock()})

    async def set_navigating(self, device_id: str, destination: str | None) -> None:
        if destination is None:
            await self.store.delete(f"nav.{device_id}")
        else:
            await self.store.put(f"nav.{device_id}", {"destination": destination, "since": self.clock()})

    async def navigating(self, device_id: str) -> bool:
        return await self.store.get(f"nav.{device_id}") is not None

    # A "Did you mean …?" card waiting for the wearer's answer.
    async def offer_suggestion(self, device_id: str, suggestion_id: str, command: dict[str, Any], ttl_s: float) -> None:
        await self.store.put(f"suggest.{device_id}", {"id": suggestion_id, "command": command, "until": self.clock() + ttl_s})

    async def take_suggestion(self, device_id: str, suggestion_id: str) -> dict[str, Any] | None:
        value = await self.store.get(f"suggest.{device_id}")
        if value is None or value.get("id") != suggestion_id:
            return None
        await self.store.delete(f"suggest.{device_id}")
        if float(value.get("until", 0)) < self.clock():
            return None
        return value.get("command")

    # "What is this": the device's last photo as vision read it, and a question waiting for the next one.
    async def remember_photo(self, device_id: str, photo: PhotoGist) -> None:
        await self.store.put(f"photo.{device_id}", {"at": self.clock(), "photo": photo.to_json()})

    async def recent_photo(self, device_id: str, within_s: float) -> PhotoGist | None:
        value = await self.store.get(f"photo.{device_id}")
        if value is None or self.clock() - float(value.get("at", 0)) > within_s:
            return None
        return PhotoGist.from_json(value.get("photo", {}))

    async def wait_for_photo(self, device_id: str, question: dict[str, Any], wait_s: float) -> None:
        await self.store.put(f"look.{device_id}", {**question, "until": self.clock() + wait_s})

    async def take_photo_question(self, device_id: str) -> dict[str, Any] | None:
        """The question the device's new photo answers (once), if one waits still."""
        value = await self.store.get(f"look.{device_id}")
        if value is None:
            return None
        await self.store.delete(f"look.{device_id}")
        return value if float(value.get("until", 0)) >= self.clock() else None
