"""The durable up-link on the edge: an outbox the hub sources.

Inputs (commands, confirmations, text) and photo notices are written into
the edge's UPLINK_<device> work queue and acknowledged by the local server
at once, link or no link. The hub's GLASSES_UP stream pulls them across the
leaf connection through the durable `hub-uplink` consumer this module
creates; its ack floor moves when the hub has stored them, which is also how
the edge counts what is still queued.
"""

from __future__ import annotations

import asyncio
import logging
import time

from google.protobuf.message import Message
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError
from sightline_runtime import streams
from sightline_runtime.events import event_headers
from sightline_runtime.telemetry import inject_headers

from sightline_glasses.settings import EdgeSettings

log = logging.getLogger(__name__)

# JetStream: the stream is at its byte limit and discards new messages.
_ERR_STREAM_FULL = (10047, 10077)


class UplinkFull(RuntimeError):
    """The edge outbox is full: the event was refused, queued ones are kept."""


class Uplink:
    """The outbox, opened: `await Uplink.open(js, device_id, settings)`."""

    def __init__(self, js: JetStreamContext, device_id: str, settings: EdgeSettings) -> None:
        self.js = js
        self.device_id = device_id
        self.settings = settings
        self.spec = streams.edge_uplink_stream(device_id, max_bytes=settings.uplink_max_bytes)

    @classmethod
    async def open(cls, js: JetStreamContext, device_id: str, settings: EdgeSettings) -> Uplink:
        """Create (or keep) the outbox and the consumer the hub sources it through."""
        uplink = cls(js, device_id, settings)
        await streams.ensure_stream(js, uplink.spec)
        config = streams.edge_uplink_consumer(device_id, heartbeat_s=settings.uplink_heartbeat_s)
        try:
            await js.add_consumer(uplink.spec.name, config)
        except BadRequestError as err:
            # An existing consumer keeps its delivery state; a changed setting
            # (say the heartbeat) is not worth resetting it for.
            log.warning("kept the existing up-link consumer: %s", err.description, extra={"device_id": device_id})
        return uplink

    async def publish(self, subject: str, event: Message, *, timeout_s: float = 10.0) -> api.PubAck:
        """Store `event` in the outbox; its event id is the Nats-Msg-Id, so a
        retried write is stored once. Retries while the local server restarts."""
        headers = inject_headers(event_headers(event))
        payload = event.SerializeToString()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return await self.js.publish(subject, payload, headers=headers, stream=self.spec.name, timeout=2.0)
            except APIError as err:
                if err.err_code in _ERR_STREAM_FULL:
                    raise UplinkFull(
                        f"the edge outbox is full ({self.settings.uplink_max_bytes} bytes waiting for the hub): event refused"
                    ) from None
                raise
            except (NoRespondersError, NoStreamResponseError, NatsTimeoutError, TimeoutError):
                # The local edge server is (re)starting; it is ours, so wait for it.
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def backlog(self) -> int:
        """Events in the outbox the hub has not confirmed storing."""
        info = await self.js.consumer_info(self.spec.name, streams.UPLINK_CONSUMER)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
