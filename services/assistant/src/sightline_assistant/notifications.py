"""The notification intake: what both ingresses (notify_http, notify_grpc)
call once a key was checked, `await intake.deliver(device_id, source, request)`.

It validates the request, looks the device up (do-not-disturb, privacy
mode), asks the policy (duplicates, the source's rate, shown or held),
publishes the Notification event and, when it is shown, the card
(an AssistantReply of kind NOTIFICATION). Where those go on the bus is the
caller's: `publish` and `show` are injected.

A failure to publish retracts the decision, so the sender's retry is not
taken for a duplicate; the event id is the notification id, so a publish
that did reach JetStream before failing is not stored twice either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from sightline.v1.assistant_pb2 import (
    AssistantReply,
    Notification,
    PushNotificationRequest,
    PushNotificationResponse,
    ReplyKind,
)
from sightline.v1.device_pb2 import DeviceRecord
from sightline_runtime.devices import is_active
from sightline_runtime.events import new_event_id, new_meta
from sightline_runtime.subjects import InvalidDeviceId, check_device_id

from sightline_assistant.domain.notifications import (
    DUPLICATE,
    SHOWN,
    URGENT,
    DeviceContext,
    NotificationInvalid,
    NotificationLimits,
    NotificationPolicy,
    NotificationTooLarge,
    RateLimited,
    Unread,
    validate,
)

log = logging.getLogger(__name__)

PRODUCER = "assistant"

DeviceLookup = Callable[[str], Awaitable[DeviceRecord | None]]
Publish = Callable[[Notification], Awaitable[None]]
Show = Callable[[AssistantReply], Awaitable[None]]
Navigating = Callable[[str], Awaitable[bool]]
Deliver = Callable[[str, str, PushNotificationRequest], Awaitable[PushNotificationResponse]]


@dataclass(frozen=True)
class NotificationConfig:
    """The ingress's settings (the service's settings fill it in)."""

    # HTTP (POST /v1/devices/{device_id}/notifications) and gRPC
    # (NotificationIngressService with grpc.health.v1); 0 = off.
    http_port: int = 0
    grpc_port: int = 0
    host: str = "0.0.0.0"  # noqa: S104 - containers listen on all interfaces
    # An HTTP request body over this is refused (413) before it is parsed.
    max_request_bytes: int = 64 * 1024
    # How long a shown card stays on the HUD; 0 = overlay's default.
    card_ttl_ms: int = 8000
    limits: NotificationLimits = field(default_factory=NotificationLimits)

    @classmethod
    def from_settings(cls, settings: Any) -> NotificationConfig:
        """From the service's settings fields notify_* (SIGHTLINE_NOTIFY_*); a field it lacks keeps its default."""
        own = {
            name: getattr(settings, f"notify_{name}", None)
            for name in ("http_port", "grpc_port", "host", "max_request_bytes", "card_ttl_ms")
        }
        limits = {name: getattr(settings, f"notify_{name}", None) for name in NotificationLimits.__dataclass_fields__}
        return cls(
            **{name: value for name, value in own.items() if value is not None},
            limits=NotificationLimits(**{name: value for name, value in limits.items() if value is not None}),
        )


class NotificationRefused(Exception):
    """Why a push was not taken; `kind` is what the ingresses map to a status."""

    INVALID = "invalid"
    TOO_LARGE = "too_large"
    UNKNOWN_DEVICE = "unknown_device"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"

    def __init__(self, kind: str, message: str, *, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s


class NotificationIntake:
    def __init__(
        self,
        policy: NotificationPolicy,
        *,
        lookup: DeviceLookup,
        publish: Publish,
        show: Show | None = None,
        navigating: Navigating | None = None,
        card_ttl_ms: int = 0,
    ) -> None:
        """`lookup`: the device registry's; `navigating(device_id)`: whether
        turn-by-turn guidance is on (DeviceState.navigating); None: never."""
        self.policy = policy
        self._lookup = lookup
        self._publish = publish
        self._show = show
        self._navigating = navigating
        self._card_ttl_ms = card_ttl_ms

    @classmethod
    def create(cls, config: NotificationConfig, **wiring) -> NotificationIntake:
        """An intake with a fresh policy on the wall clock."""
        return cls(NotificationPolicy(config.limits, time.monotonic, new_event_id), card_ttl_ms=config.card_ttl_ms, **wiring)

    async def deliver(self, device_id: str, source: str, request: PushNotificationRequest) -> PushNotificationResponse:
        """Deliver a push from `source` (the key's name) to `device_id`, whose
        scope the caller checked; NotificationRefused says why not."""
        try:
            check_device_id(device_id)
            incoming = validate(request.title, request.body, request.priority, request.dedup_key, self.policy.limits)
        except NotificationTooLarge as exc:
            raise NotificationRefused(NotificationRefused.TOO_LARGE, str(exc)) from None
        except (InvalidDeviceId, NotificationInvalid) as exc:
            raise NotificationRefused(NotificationRefused.INVALID, str(exc)) from None
        record = await self._lookup(device_id)
        if not is_active(record):
            raise NotificationRefused(NotificationRefused.UNKNOWN_DEVICE, f"no active device {device_id}")
        navigating = await self._navigating(device_id) if self._navigating is not None else False
        context = DeviceContext(do_not_disturb=record.do_not_disturb, privacy_mode=record.privacy.enabled, navigating=navigating)
        try:
            decision = self.policy.decide(device_id, source, incoming, context)
        except RateLimited as exc:
            log.info("notification refused: source over its rate", extra={"device_id": device_id, "source": source})
            raise NotificationRefused(NotificationRefused.RATE_LIMITED, str(exc), retry_after_s=exc.retry_after_s) from None
        response = PushNotificationResponse(notification_id=decision.notification_id, delivery=decision.delivery)
        if decision.delivery == DUPLICATE:
            # The first one was published already: the sender gets its id again.
            return response
        notification = Notification(
            meta=new_meta(device_id, PRODUCER, event_id=decision.notification_id),
            notification_id=decision.notification_id,
            source=source,
            title=incoming.title,
            body=incoming.body,
            priority=incoming.priority,
            dedup_key=incoming.dedup_key,
            delivery=decision.delivery,
        )
        try:
            await self._publish(notification)
            if decision.delivery == SHOWN and self._show is not None:
                await self._show(self.card(notification))
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            self.policy.retract(device_id, decision.notification_id)
            log.warning("notification not published: %s", exc, extra={"device_id": device_id, "source": source})
            raise NotificationRefused(NotificationRefused.UNAVAILABLE, "the notification could not be delivered now, try again") from None
        log.info(
            "notification %s",
            "shown" if decision.delivery == SHOWN else f"held ({decision.held_because})",
            extra={"device_id": device_id, "source": source, "notification_id": decision.notification_id},
        )
        return response

    # --- the unread list, for "read my notifications" and the briefing ---
    def unread_count(self, device_id: str) -> int:
        return len(self.policy.unread(device_id))

    def unread(self, device_id: str) -> list[Unread]:
        """Oldest first, shown and held ones (`delivery` says which)."""
        return self.policy.unread(device_id)

    def take_unread(self, device_id: str) -> list[Unread]:
        """The unread ones, oldest first, now marked read."""
        return self.policy.mark_read(device_id)

    def card(self, notification: Notification) -> AssistantReply:
        """The HUD card of a shown notification."""
        return AssistantReply(
            meta=new_meta(notification.meta.device_id, PRODUCER, causation_id=notification.meta.event_id),
            kind=ReplyKind.REPLY_KIND_NOTIFICATION,
            title=notification.title,
            body=notification.body,
            items=[f"from {notification.source}"],
            reference_id=notification.notification_id,
            ttl_ms=self._card_ttl_ms,
            urgent=notification.priority == URGENT,
        )
