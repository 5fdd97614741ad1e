"""The assistant's request subjects, request bytes to (response, headers).

assistant.rpc.get_transcript (GetTranscriptRequest) and
assistant.rpc.import_calendar (ImportCalendarRequest), asked by the hub's
admin (the CLI). A refused or failed request gets an empty response and the
NATS services error headers (sightline_runtime.replies): 400 a bad request
or a malformed .ics (the reason, with its line), 404 an unknown device, 413
an oversized .ics, 503 the store is unavailable, 500 a bug. A refused import
stores nothing: the file is read in full before the schedule is touched, and
the schedule is written in one transaction. The subjects are bus.py's
(GET_TRANSCRIPT, IMPORT_CALENDAR).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from google.protobuf.message import DecodeError, Message
from sightline.v1.assistant_pb2 import GetTranscriptRequest, GetTranscriptResponse, ImportCalendarRequest, ImportCalendarResponse
from sightline_runtime.devices import DeviceDirectory
from sightline_runtime.replies import error_headers
from sightline_runtime.subjects import InvalidDeviceId, check_device_id
from sqlalchemy.exc import SQLAlchemyError

from sightline_assistant.domain import calendar
from sightline_assistant.domain.when import TimeExpressionError, zone
from sightline_assistant.store import MAX_LIMIT, AssistantStore, StoreInputError
from sightline_assistant.store.records import token_after
from sightline_assistant.store.store import DEFAULT_LIMIT

log = logging.getLogger(__name__)

# A reply stays well under the hub's max payload (2 MiB by default): a page is cut short and goes on in the next.
DEFAULT_MAX_REPLY_BYTES = 1024 * 1024
# Warnings past this many are counted, not listed.
MAX_WARNINGS = 100

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)
Answer = tuple[Response, dict[str, str]]


class Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CalendarLimits:
    max_bytes: int = calendar.DEFAULT_MAX_BYTES
    window_days: int = calendar.DEFAULT_WINDOW_DAYS
    max_events: int = calendar.DEFAULT_MAX_EVENTS


def parse(kind: type[Request], body: bytes) -> Request:
    try:
        return kind.FromString(body)
    except DecodeError:
        raise Refused(400, f"malformed {kind.DESCRIPTOR.name}") from None


def device_of(request: Message) -> str:
    device_id = request.device_id  # type: ignore[attr-defined]
    if not device_id:
        raise Refused(400, "device_id is required")
    try:
        return check_device_id(device_id)
    except InvalidDeviceId as exc:
        raise Refused(400, str(exc)) from None


async def answer(empty: Response, what: str, work: Callable[[], Awaitable[Response]]) -> Answer[Response]:
    """work()'s response, or `empty` with the error headers; never raises."""
    try:
        return await work(), {}
    except Refused as exc:
        return empty, error_headers(exc.code, exc.message)
    except calendar.CalendarTooLarge as exc:
        return empty, error_headers(413, str(exc))
    except (calendar.CalendarFileError, StoreInputError) as exc:
        return empty, error_headers(400, str(exc))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("assistant: %s failed: %s", what, exc)
        return empty, error_headers(503, "the assistant's store is unavailable, try again")
    except Exception:  # a bug: the caller hears of it rather than timing out
        log.exception("assistant: %s failed", what)
        return empty, error_headers(500, "internal error")


class AssistantRequests:
    """Bind to the bus as handlers.get_transcript / handlers.import_calendar (body -> (response, headers))."""

    def __init__(
        self,
        store: AssistantStore,
        devices: DeviceDirectory,
        *,
        limits: CalendarLimits = CalendarLimits(),
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.devices = devices
        self.limits = limits
        self.max_reply_bytes = max_reply_bytes
        self.clock = clock

    async def get_transcript(self, body: bytes) -> Answer[GetTranscriptResponse]:
        async def work() -> GetTranscriptResponse:
            request = parse(GetTranscriptRequest, body)
            device_id = device_of(request)
            limit = request.limit or DEFAULT_LIMIT
            if limit > MAX_LIMIT:
                raise Refused(400, f"limit is at most {MAX_LIMIT}")
            since = None
            if request.HasField("since"):
                try:
                    since = request.since.ToDatetime(tzinfo=dt.UTC)
                except (ValueError, OverflowError) as exc:
                    raise Refused(400, f"since is not a valid time: {exc}") from None
            lines, next_token = await self.store.transcript(device_id, since=since, limit=limit, page_token=request.page_token)
            return self._fitted(lines, next_token)

        return await answer(GetTranscriptResponse(), "get_transcript", work)

    def _fitted(self, lines: list, next_token: str) -> GetTranscriptResponse:
        """The page, ended early where it would outgrow a reply (whole lines only, never cut)."""
        response = GetTranscriptResponse()
        for index, line in enumerate(lines):
            proto = line.to_proto()
            # 64 bytes: the field's own framing and the next-page token.
            if index and response.ByteSize() + proto.ByteSize() + 64 > self.max_reply_bytes:
                response.next_page_token = token_after(lines[index - 1])
                return response
            response.lines.append(proto)
        response.next_page_token = next_token
        return response

    async def import_calendar(self, body: bytes) -> Answer[ImportCalendarResponse]:
        async def work() -> ImportCalendarResponse:
            request = parse(ImportCalendarRequest, body)
            device_id = device_of(request)
            if not request.ics:
                raise Refused(400, "the request carries no .ics file")
            record = await self.devices.lookup(device_id)
            if record is None:
                raise Refused(404, f"unknown device {device_id!r}: add it with `sightline devices add` first")
            warnings: list[str] = []
            try:
                device_zone = zone(record.time_zone or "UTC")
            except TimeExpressionError:
                warnings.append(f"the device's time zone {record.time_zone!r} is unknown: floating and all-day times read as UTC")
                device_zone = ZoneInfo("UTC")
            parsed = calendar.parse_ics(
                request.ics,
                zone=device_zone,
                now=self.clock(),
                window_days=self.limits.window_days,
                max_bytes=self.limits.max_bytes,
                max_events=self.limits.max_events,
            )
            result = await self.store.replace_or_merge_calendar(
                device_id, parsed.entries, replace=request.replace, cancelled_uids=sorted(parsed.cancelled_uids)
            )
            warnings.extend(parsed.warnings)
            if len(warnings) > MAX_WARNINGS:
                warnings = [*warnings[: MAX_WARNINGS - 1], f"… and {len(warnings) - MAX_WARNINGS + 1} more warnings"]
            log.info(
                "calendar imported",
                extra={"device_id": device_id, "imported": result.imported, "skipped": parsed.skipped, "replace": request.replace},
            )
            return ImportCalendarResponse(imported=result.imported, skipped=parsed.skipped, warnings=warnings)

        return await answer(ImportCalendarResponse(), "import_calendar", work)
