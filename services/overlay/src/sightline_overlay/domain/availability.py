"""Whether a device's captions can come at all, so the caption region can
say so instead of staying silently empty.

Captions need a live, ready instance of the speech service subscribed to the
device's audio subject (its partition, when the hub partitions audio). The
presence tracker answers that (sightline_runtime.presence); this module
decides which devices to tell, and when:

- only on a transition (available -> unavailable or back), never per beat;
- a new unavailability is told to devices using speech recently (captions
  or spoken commands within `window_s`; typed text alone does not count: a
  text-only wearer is never told about captions), not to every provisioned
  device: a fleet of 10k idle glasses must not get 10k messages for nothing;
- a device first seen while captions are unavailable is told at once;
- every device told "unavailable" is told again when captions are back, even
  if it has gone quiet since (its HUD would otherwise keep a stale notice);
- before the tracker has listened for an expiry period, "nobody serves" may
  mean "not heard yet", so nothing is declared unavailable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class Presence(Protocol):
    """What the overlay asks of sightline_runtime.presence.PresenceTracker."""

    @property
    def generation(self) -> int: ...

    @property
    def settled(self) -> bool: ...

    def serves(self, subject: str, *, service: str | None = None) -> bool: ...


class CaptionAvailability:
    def __init__(
        self,
        presence: Presence,
        *,
        service: str,
        audio_subject: Callable[[str], str],
        window_s: float,
        max_devices: int,
    ) -> None:
        self.presence = presence
        self.service = service
        self._audio_subject = audio_subject
        self.window_s = window_s
        self.max_devices = max_devices
        # device -> (last seen, its audio subject), least recently seen first.
        self._recent: OrderedDict[str, tuple[float, str]] = OrderedDict()
        # Devices whose HUD says captions are unavailable (until told otherwise).
        self._told: dict[str, str] = {}
        # What presence said when last asked: (generation, settled).
        self._state: tuple[int, bool] | None = None

    def unavailable(self, device_id: str) -> bool:
        """Whether this device's HUD is (to be) showing the notice."""
        return device_id in self._told

    def _serves(self, subject: str) -> bool:
        return not self.presence.settled or self.presence.serves(subject, service=self.service)

    def seen(self, device_id: str, now: float) -> bool:
        """The device is active. Returns True when it must be told, now,
        that its captions are unavailable (it was not known to be waiting)."""
        known = self._recent.pop(device_id, None)
        subject = known[1] if known is not None else self._audio_subject(device_id)
        self._recent[device_id] = (now, subject)
        while len(self._recent) > self.max_devices:
            self._recent.popitem(last=False)
        if known is not None or device_id in self._told or self._serves(subject):
            return False
        self._tell(device_id, subject)
        return True

    def _tell(self, device_id: str, subject: str) -> None:
        self._told[device_id] = subject
        while len(self._told) > self.max_devices:
            # Bounded like the rest: the oldest notices are left to their HUD.
            del self._told[next(iter(self._told))]

    def changes(self, now: float) -> list[tuple[str, bool]]:
        """Devices to tell now: (device, captions available). Cheap when
        nothing changed: presence is re-asked only when its generation moved."""
        horizon = now - self.window_s
        while self._recent:
            device_id, (seen_at, _) = next(iter(self._recent.items()))
            if seen_at >= horizon:
                break
            del self._recent[device_id]
        settled = self.presence.settled
        state = (self.presence.generation, settled)
        if state == self._state:
            return []
        self._state = state
        changes: list[tuple[str, bool]] = []
        for device_id, subject in list(self._told.items()):
            if self._serves(subject):
                del self._told[device_id]
                changes.append((device_id, True))
        if settled:
            for device_id, (_, subject) in self._recent.items():
                if device_id not in self._told and not self.presence.serves(subject, service=self.service):
                    self._tell(device_id, subject)
                    changes.append((device_id, False))
        return changes

    def __len__(self) -> int:
        return len(self._recent)


# --- what the caption region says ---
# An entry with this id is the overlay's notice, not speech: glasses show it
# like any entry (older firmware too); a HUD that knows the prefix may style it.
NOTICE_PREFIX = "notice:"
CAPTIONS_NOTICE_ID = f"{NOTICE_PREFIX}captions-unavailable"
CAPTIONS_UNAVAILABLE = "Captions unavailable"
NOTICE_LANGUAGE = "en"
