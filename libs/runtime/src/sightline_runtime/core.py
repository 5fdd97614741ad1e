"""Core NATS subscriptions on the hot path, straight on nats-py.

A handler with per-device admission on a core subject (asr's audio frames)
must shed a flood for the price of a token-bucket lookup: through
faststream's subscriber each message costs ~0.3 ms before the guard sees it
(task group, middlewares, the consumer span), so 2,500 dropped frames a
second from one device took 0.8 of a core and delayed every other device's
frames queued behind them (tests/speech/test_flood_admission.py). Here
admission runs first, then the consumer span (as faststream names it, so a
trace reads the same) and the guard. nats-py calls one subscription's
callback one message at a time, in order, as faststream's subscriber with
max_workers=1 did.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.exceptions import AckMessage, NackMessage, RejectMessage
from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from sightline_runtime.pull import Pulled
from sightline_runtime.subjects import device_token
from sightline_runtime.telemetry import DEVICE_ATTRIBUTE, extract_context, subject_template

log = logging.getLogger(__name__)


class CoreSubscriber:
    def __init__(
        self,
        nc: Any,
        subject: str,
        *,
        queue: str,
        admit: Callable[[Pulled], Awaitable[bool]],
        handle: Callable[[Pulled], Awaitable[None]],
        tracer_provider: Any = None,
    ) -> None:
        self._nc = nc
        self.subject = subject
        self.queue = queue
        self._admit = admit
        self._handle = handle
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("sightline.core")
        self._sub: Any = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self.subject, queue=self.queue, cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_message(self, msg: Msg) -> None:
        pulled = Pulled(msg, msg.data, msg.headers or {})
        try:
            if not await self._admit(pulled):
                return  # dropped and reported by admission
            attributes = {
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.queue,
            }
            device = device_token(msg.subject)
            if device:
                attributes[DEVICE_ATTRIBUTE] = device
            with self._tracer.start_as_current_span(
                f"{subject_template(msg.subject)} process",
                context=extract_context(pulled.headers),
                kind=SpanKind.CONSUMER,
                attributes=attributes,
            ):
                await self._handle(pulled)
        except (AckMessage, NackMessage, RejectMessage):
            pass  # acknowledgements mean nothing on core NATS
        except Exception:
            # The guard turns handler failures into error events itself: this is a bug in the guard.
            log.exception("unguarded handler error on a core subscription", extra={"subject": msg.subject})
