"""Commands from the hub on `glasses.<device>.down.command` (DeviceCommand):
what the glasses accept before they act on one.

Anyone who can publish on the down-link could try a forgery or a replay, and
a sender's retry may deliver a command twice, so each one is checked: its
size before it is parsed, its bytes, that its meta names these glasses and
the device of the subject it came on, that it has an event id, that it is
recent, that it is a command these glasses know, and that its fields make
sense. A refusal is logged with its reason and context and counted; nothing
is raised to the subscription. An event id seen recently (bounded memory)
is acted on once.
"""

from __future__ import annotations

import collections
import logging
import time

from google.protobuf.message import DecodeError
from sightline.v1.device_pb2 import DeviceCommand
from sightline_runtime import languages, subjects

log = logging.getLogger(__name__)


class CommandRefused(ValueError):
    """A command the glasses will not act on; `reason` is a short label (counted), the message says why."""

    def __init__(self, reason: str, message: str, *, event_id: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.event_id = event_id


class RecentIds:
    """The last `capacity` event ids, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("remember at least one event id")
        self.capacity = capacity
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> bool:
        """Remember `event_id`; False when it was already remembered."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


def read_command(
    data: bytes, subject: str, device_id: str, *, max_bytes: int, max_age_s: float, now_s: float | None = None
) -> DeviceCommand:
    """The DeviceCommand in `data`, received on `subject` by the glasses `device_id`, or CommandRefused."""
    if len(data) > max_bytes:
        raise CommandRefused("oversized", f"{len(data)} bytes is over the {max_bytes}-byte command limit")
    token = subjects.device_token(subject)
    if token != device_id:
        raise CommandRefused("wrong_subject", f"subject {subject!r} is not these glasses' ({device_id!r}) command subject")
    command = DeviceCommand()
    try:
        command.ParseFromString(data)
    except DecodeError as err:
        raise CommandRefused("undecodable", f"not a DeviceCommand ({err})") from None
    event_id = command.meta.event_id
    if command.meta.device_id != token:
        raise CommandRefused(
            "wrong_device", f"its meta names device {command.meta.device_id[:64]!r}, the subject {token!r}", event_id=event_id
        )
    if not event_id:
        raise CommandRefused("invalid", "no event id (a retry could not be told from a new command)")
    if not command.meta.HasField("created_at"):
        raise CommandRefused("invalid", "no created_at (its age cannot be checked)", event_id=event_id)
    age_s = (time.time() if now_s is None else now_s) - command.meta.created_at.ToNanoseconds() / 1e9
    if age_s > max_age_s:
        raise CommandRefused("stale", f"created {age_s:.0f}s ago, over the {max_age_s:g}s limit (a replay?)", event_id=event_id)
    kind = command.WhichOneof("command")
    if kind is None:
        # A newer sender's command parses with its field unknown here.
        raise CommandRefused("unknown_command", "no command these glasses know (newer contract?)", event_id=event_id)
    if kind == "conversation_translation":
        _check_translation(command, event_id)
    return command


def _check_translation(command: DeviceCommand, event_id: str) -> None:
    translation = command.conversation_translation
    if not translation.enabled:
        return
    if not translation.target_language:
        raise CommandRefused("invalid", "translation on without a target language", event_id=event_id)
    for name in ("source_language", "target_language"):
        tag = getattr(translation, name)
        if not tag:
            continue  # an empty source is "detect"
        try:
            languages.primary(tag)
        except languages.InvalidLanguage as err:
            raise CommandRefused("invalid", f"{name}: {err}", event_id=event_id) from None


class CommandInbox:
    """What reaches the glasses on their command subject: admitted once each, or refused and counted."""

    def __init__(self, device_id: str, *, max_bytes: int, memory: int, max_age_s: float) -> None:
        self.device_id = device_id
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.recent = RecentIds(memory)
        # Per outcome: acted ("done", "no_camera", "privacy_mode", "failed") or refused (the reasons above, "duplicate").
        self.counts: collections.Counter[str] = collections.Counter()

    def admit(self, data: bytes, subject: str) -> DeviceCommand | None:
        """The command to act on, or None (refused or a repeat; logged and counted)."""
        try:
            command = read_command(data, subject, self.device_id, max_bytes=self.max_bytes, max_age_s=self.max_age_s)
        except CommandRefused as refused:
            self.counts[refused.reason] += 1
            log.warning(
                "device command on %s refused (%s): %s [%d bytes%s]",
                subject,
                refused.reason,
                refused,
                len(data),
                f", event {refused.event_id[:64]}" if refused.event_id else "",
                extra={"device_id": self.device_id, "subject": subject, "reason": refused.reason, "size": len(data)},
            )
            return None
        if not self.recent.add(command.meta.event_id):
            self.counts["duplicate"] += 1
            log.info(
                "device command %s (%s) already acted on: ignored",
                command.meta.event_id,
                command.WhichOneof("command"),
                extra={"device_id": self.device_id, "event_id": command.meta.event_id},
            )
            return None
        return command

    def done(self, command: DeviceCommand, outcome: str) -> None:
        self.counts[outcome] += 1
