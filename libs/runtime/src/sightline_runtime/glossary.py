"""The per-device translation glossary as stored: GlossaryEntry protobufs
in the JetStream KV bucket "glossary", keyed
`<device>.<source>.<target>.<base64url(casefolded term)>` so any term
(spaces, CJK, dots) makes a valid, token-safe key and a device's entries
can be listed by prefix. The translation service mirrors the bucket and
applies it; the CLI administers it through this module.
"""

from __future__ import annotations

import base64
import logging

from google.protobuf.message import DecodeError
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError
from sightline.v1.translation_pb2 import GlossaryEntry

from sightline_runtime.languages import Pair, primary
from sightline_runtime.streams import GLOSSARY, ensure_bucket
from sightline_runtime.subjects import DEVICE_ID_PATTERN, check_device_id

log = logging.getLogger(__name__)

MAX_TERM_CHARS = 100
MAX_TRANSLATION_CHARS = 200
# Reserved: the translation service marks protected terms with them.
RESERVED = ("⟦", "⟧")


class GlossaryError(ValueError):
    pass


def term_key(term: str) -> str:
    return base64.urlsafe_b64encode(term.strip().casefold().encode()).decode().rstrip("=")


def entry_key(device_id: str, pair: Pair, term: str) -> str:
    return f"{check_device_id(device_id)}.{pair.source}.{pair.target}.{term_key(term)}"


def validate_entry(device_id: str, source: str, target: str, term: str, translation: str) -> tuple[Pair, GlossaryEntry]:
    check_device_id(device_id)
    pair = Pair(primary(source), primary(target))
    if pair.source == pair.target:
        raise GlossaryError("source and target language are the same")
    term, translation = term.strip(), translation.strip()
    if not term or not translation:
        raise GlossaryError("term and translation must not be empty")
    if len(term) > MAX_TERM_CHARS or len(translation) > MAX_TRANSLATION_CHARS:
        raise GlossaryError(f"term is limited to {MAX_TERM_CHARS} and translation to {MAX_TRANSLATION_CHARS} characters")
    if any(not ch.isprintable() for ch in term + translation) or any(mark in term + translation for mark in RESERVED):
        raise GlossaryError("term and translation must be printable text without ⟦ ⟧")
    return pair, GlossaryEntry(source_language=pair.source, target_language=pair.target, term=term, translation=translation)


def parse_entry(key: str, value: bytes) -> tuple[str, Pair, GlossaryEntry] | None:
    parts = key.split(".", 3)
    entry = GlossaryEntry()
    try:
        entry.ParseFromString(value)
    except DecodeError:
        entry = None
    if len(parts) != 4 or not DEVICE_ID_PATTERN.fullmatch(parts[0]) or entry is None:
        log.error("glossary entry is not a GlossaryEntry under a valid key; ignoring it", extra={"key": key[:200]})
        return None
    pair = Pair(parts[1], parts[2])
    if (entry.source_language, entry.target_language) != pair or term_key(entry.term) != parts[3]:
        log.error("glossary entry does not match its key; ignoring it", extra={"key": key[:200]})
        return None
    return parts[0], pair, entry


class GlossaryStore:
    """Add, remove and list entries, straight to the KV bucket."""

    def __init__(self, js: JetStreamContext, *, replicas: int = 1) -> None:
        self._js = js
        self._replicas = replicas
        self._kv = None

    async def open(self) -> GlossaryStore:
        if self._kv is None:
            self._kv = await ensure_bucket(self._js, GLOSSARY, replicas=self._replicas)
        return self

    def _stored(self, key: str, value: bytes | None) -> None:
        """Called after every write; the service's mirror applies it at once."""

    async def add(self, device_id: str, source: str, target: str, term: str, translation: str) -> GlossaryEntry:
        pair, entry = validate_entry(device_id, source, target, term, translation)
        await self.open()
        key = entry_key(device_id, pair, entry.term)
        await self._kv.put(key, entry.SerializeToString())
        self._stored(key, entry.SerializeToString())
        return entry

    async def remove(self, device_id: str, source: str, target: str, term: str) -> bool:
        pair = Pair(primary(source), primary(target))
        await self.open()
        key = entry_key(device_id, pair, term)
        try:
            await self._kv.get(key)
        except KeyNotFoundError:
            return False
        await self._kv.delete(key)
        self._stored(key, None)
        return True

    async def list(self, device_id: str) -> list[GlossaryEntry]:
        await self.open()
        # A watch filtered by the server on the device's keys (nats-py's
        # keys(filters=...) only tests substrings on the client).
        watcher = await self._kv.watch(f"{check_device_id(device_id)}.>", ignore_deletes=True)
        entries = []
        try:
            async for stored in watcher:
                if stored is None:  # all current values delivered
                    break
                parsed = parse_entry(stored.key, stored.value) if stored.value else None
                if parsed is not None:
                    entries.append(parsed[2])
        finally:
            await watcher.stop()
        return sorted(entries, key=lambda e: (e.source_language, e.target_language, e.term.casefold()))
