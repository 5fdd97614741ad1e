"""Looking up a device's last VisionResult or photo Translation in its stream.

Overlay keeps each device's current photo in memory, but with several
replicas sharing the durables (or after a restart) a photo's VisionResult and
its Translation may reach different replicas. The one that gets a Translation
for a photo it never saw reads the device's last VisionResult from VISION; the
one whose labels are still pending at the deadline reads the device's last
photo Translation from TRANSLATION before saying "late". So every replica
converges on the same labels (and display updates are latest-wins anyway).
"""

from __future__ import annotations

import logging
from typing import TypeVar

from google.protobuf.message import DecodeError
from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sightline.v1.translation_pb2 import Translation
from sightline.v1.vision_pb2 import VisionResult
from sightline_runtime import subjects
from sightline_runtime.logs import RateLimitedLog

log = logging.getLogger(__name__)
M = TypeVar("M", VisionResult, Translation)


class StreamRecall:
    def __init__(self, js: JetStreamContext) -> None:
        self.js = js
        self._streams: dict[str, str] = {}
        self.limited_log = RateLimitedLog(log)

    async def last_result(self, device_id: str) -> VisionResult | None:
        return await self._last(subjects.domain("vision", "result", device_id), VisionResult)

    async def last_translation(self, device_id: str) -> Translation | None:
        return await self._last(subjects.domain("translation", "photo", device_id), Translation)

    async def _last(self, subject: str, kind: type[M]) -> M | None:
        """The last event on `subject`, or None (no stream or event yet, or the lookup failed)."""
        try:
            stream = self._streams.get(subject) or await self.js.find_stream_name_by_subject(subject)
            self._streams[subject] = stream
            raw = await self.js.get_last_msg(stream, subject)
            event = kind()
            event.ParseFromString(raw.data or b"")
        except NotFoundError:
            return None
        except (NatsError, DecodeError, TimeoutError) as err:
            # Best effort: without it this replica shows what it has, as it would alone.
            if self.limited_log.limiter.allow(("recall", subject.partition(".")[0]))[0]:
                log.warning("could not look up the last event", extra={"subject": subject, "error": repr(err)})
            return None
        return event if event.meta.device_id == subjects.device_token(subject) else None
