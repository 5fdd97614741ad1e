"""A JetStream pull consumer loop written against nats-py, for the hot path.

faststream's pull subscriber costs ~0.4 ms a message here (a task group per
fetch, four middlewares, fast_depends) and, with `PullSub(batch_size=1)`,
sends the next pull request only after the previous message was handled
*and* acknowledged. This loop:

- keeps one pull request outstanding all the time: the request for the next
  message goes out the moment the current one arrives, before it is handled,
  so a message never waits in the stream for a request;
- handles messages one at a time in delivery order (`ordered=True`) or with
  `max_workers` tasks;
- acknowledges with a plain `+ACK` publish (no double-ack round trip), and,
  when the handler asked for it through `defer_ack`, only after the writes it
  registered (the inbox's done marks) were stored, in the background, so the
  next message does not wait for them;
- sends `+WPI` (work in progress) while a handler runs longer than a third of
  ack_wait, so a slow handler is not redelivered to someone else meanwhile;
- maps faststream's handler exceptions (AckMessage, NackMessage(delay=...),
  RejectMessage) onto ack, nak and term, so `EventGuard.handle` runs here as
  it runs under faststream;
- opens a consumer span whose parent is the trace context in the headers, so
  publishes made by the handler continue the glasses' trace;
- with a `lease` (sightline_runtime.inbox.ConsumerLease), pulls only while it
  holds the lease: one replica at a time consumes the durable, which is what
  lets the inbox recognise duplicates from memory (see inbox.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from faststream.exceptions import AckMessage, NackMessage, RejectMessage
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from sightline_runtime.subjects import device_token
from sightline_runtime.telemetry import DEVICE_ATTRIBUTE, extract_context, subject_template

log = logging.getLogger(__name__)

# Writes the current message's ack must wait for (set per message by the loop).
_deferred: contextvars.ContextVar[list[Awaitable[Any]] | None] = contextvars.ContextVar("sightline_pull_deferred", default=None)


def defer_ack(write: Awaitable[Any]) -> bool:
    """Let the ack of the message being handled wait for `write` (in the
    background). False outside a pull loop: then the caller awaits it itself."""
    pending = _deferred.get()
    if pending is None:
        return False
    pending.append(write)
    return True


class Lease(Protocol):
    """What the loop needs of a lease: only its holder pulls."""

    @property
    def held(self) -> bool: ...

    async def start(self) -> None: ...

    async def wait_held(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Pulled:
    """A pulled message with the attributes EventGuard.handle reads from a faststream NatsMessage."""

    raw_message: Msg
    body: bytes
    headers: dict[str, str]


@dataclass
class PullStats:
    handled: int = 0
    acked: int = 0
    nacked: int = 0
    terminated: int = 0
    ack_write_failures: int = 0
    pull_requests: int = 0
    status: dict[str, int] = field(default_factory=dict)


class PullConsumer:
    def __init__(
        self,
        js,
        stream: str,
        config: ConsumerConfig,
        handle: Callable[[Pulled], Awaitable[None]],
        *,
        batch: int = 1,
        ordered: bool = True,
        max_workers: int = 1,
        expires_s: float = 5.0,
        lease: Lease | None = None,
        tracer_provider: Any = None,
        title: str = "",
    ) -> None:
        if not config.durable_name:
            raise ValueError("PullConsumer needs a durable consumer (config.durable_name)")
        if batch < 1 or max_workers < 1:
            raise ValueError("batch and max_workers must be at least 1")
        self._js = js
        self._nc = js._nc
        self.stream = stream
        self.config = config
        self.durable = config.durable_name
        self._handle = handle
        self.batch = batch
        self.workers = 1 if ordered else max_workers
        self.expires_s = expires_s
        self.lease = lease
        self.title = title or f"{stream}/{self.durable}"
        self._tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("sightline.pull")
        self._progress_s = max(0.5, float(config.ack_wait or 30.0) / 3)
        self._next_subject = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{self.durable}"
        self._request_body = json.dumps({"batch": batch, "expires": int(expires_s * 1e9)}).encode()
        # Workers only when handlers may run concurrently; an ordered consumer
        # handles in the subscription's own callback (one at a time, in order).
        self._queue: asyncio.Queue[Msg] | None = None if ordered else asyncio.Queue()
        self._outstanding = 0  # messages asked for and not delivered yet
        self._asked_at = 0.0
        self._deliver = ""
        self._sub = None
        self._tasks: list[asyncio.Task[None]] = []
        self._acks: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._running = False
        self._ready = False  # the durable exists
        self.stats = PullStats()

    # --- lifecycle ---
    @property
    def started(self) -> bool:
        return self._running

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._deliver = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._deliver, cb=self._on_message)
        if self.lease is not None:
            await self.lease.start()
        self._tasks = [asyncio.create_task(self._supervise(), name=f"pull-{self.durable}")]
        if self._queue is not None:
            self._tasks += [asyncio.create_task(self._work(), name=f"pull-{self.durable}-worker{i}") for i in range(self.workers)]

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop pulling, let the handlers in progress finish, flush the acks,
        give back what was pulled but not handled, then release the lease."""
        if not self._running:
            return
        self._running = False
        self._tasks[0].cancel()
        deadline = time.monotonic() + timeout_s
        while self._busy and time.monotonic() < deadline:  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.01)
        for task in self._tasks[1:]:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._acks:
            await asyncio.wait(self._acks, timeout=max(0.1, deadline - time.monotonic()))
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        while self._queue is not None and not self._queue.empty():
            with contextlib.suppress(Exception):
                await self._queue.get_nowait().nak()
        if self.lease is not None:
            await self.lease.stop()

    async def __aenter__(self) -> PullConsumer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- pulling ---
    async def _ensure_consumer(self) -> None:
        while True:
            try:
                await self._js.add_consumer(self.stream, config=self.config)
                self._ready = True
                return
            except NotFoundError:
                log.warning("stream not there yet; retrying", extra={"stream": self.stream, "consumer": self.durable})
                await asyncio.sleep(1.0)

    async def _ask(self) -> None:
        """Send a pull request for `batch` messages unless one is outstanding,
        the local queue is full, or another replica holds the lease."""
        if not (self._running and self._ready) or self._outstanding > 0:
            return
        if self._queue is not None and self._queue.qsize() >= self.batch:
            return
        if self.lease is not None and not self.lease.held:
            return
        self._outstanding, self._asked_at = self.batch, time.monotonic()
        self.stats.pull_requests += 1
        try:
            await self._nc.publish(self._next_subject, self._request_body, reply=self._deliver)
        except Exception:
            self._outstanding = 0
            log.warning("could not send a pull request; retrying", exc_info=True, extra={"consumer": self.durable})

    async def _supervise(self) -> None:
        """Create the durable, then keep a request outstanding: after the lease
        comes (back), and when a request was lost (a reconnect) or never answered."""
        await self._ensure_consumer()
        while self._running:
            if self.lease is not None and not self.lease.held:
                await self.lease.wait_held()
            if self._outstanding and time.monotonic() - self._asked_at > self.expires_s + 1.0:
                self._outstanding = 0
            await self._ask()
            await asyncio.sleep(0.25 if self.lease is not None else 1.0)

    async def _on_message(self, msg: Msg) -> None:
        headers = msg.headers
        if not msg.data and headers and "Status" in headers:
            status = headers["Status"]
            self.stats.status[status] = self.stats.status.get(status, 0) + 1
            if status == "100":
                return  # idle heartbeat
            if status not in ("404", "408"):
                description = headers.get("Description", "")
                log.warning("pull request ended", extra={"consumer": self.durable, "status": status, "description": description})
                if status == "409" and "Deleted" in description:
                    # The durable went away (a stream reset): create it again before pulling on.
                    self._ready = False
                    asyncio.get_running_loop().create_task(self._ensure_consumer())
            self._outstanding = 0
            await self._ask()
            return
        self._outstanding = max(0, self._outstanding - 1)
        if not self._running:
            with contextlib.suppress(Exception):
                await msg.nak()  # stopping: give it back at once rather than after ack_wait
            return
        if self._queue is not None:
            self._queue.put_nowait(msg)
            await self._ask()
            return
        # Ask for the next message before handling this one: it is on its way meanwhile.
        await self._ask()
        self._busy += 1
        try:
            await self._handle_one(msg)
        finally:
            self._busy -= 1

    # --- handling ---
    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            msg = await self._queue.get()
            if not self._running:
                with contextlib.suppress(Exception):
                    await msg.nak()  # stopping: give it back now
                continue
            self._busy += 1
            try:
                await self._ask()
                await self._handle_one(msg)
            finally:
                self._busy -= 1

    async def _handle_one(self, msg: Msg) -> None:
        pending: list[Awaitable[Any]] = []
        token = _deferred.set(pending)
        loop = asyncio.get_running_loop()
        running = [True]  # the handler runs: keep telling JetStream so
        loop.call_later(self._progress_s, self._in_progress, msg, running)
        action, delay = "ack", None
        headers = msg.headers or {}
        try:
            # faststream's consumer span name and attributes: a trace reads the same under either loop.
            attributes = {
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.durable,
            }
            device = device_token(msg.subject)
            if device:
                attributes[DEVICE_ATTRIBUTE] = device
            with self._tracer.start_as_current_span(
                f"{subject_template(msg.subject)} process", context=extract_context(headers), kind=SpanKind.CONSUMER, attributes=attributes
            ):
                await self._handle(Pulled(msg, msg.data, headers))
        except AckMessage:
            pass
        except NackMessage as nack:
            action, delay = "nak", nack.extra_options.get("delay")
        except RejectMessage:
            action = "term"
        except Exception:
            # EventGuard turns handler failures into nak/term itself; this is a bug in the guard.
            log.exception("unguarded handler error; redelivering", extra={"consumer": self.durable, "subject": msg.subject})
            action, delay = "nak", 1.0
        finally:
            _deferred.reset(token)
            running[0] = False
        self.stats.handled += 1
        try:
            if action == "ack" and pending:
                task = loop.create_task(self._ack_after(msg, pending))
                self._acks.add(task)
                task.add_done_callback(self._acks.discard)
            elif action == "ack":
                await msg.ack()
                self.stats.acked += 1
            elif action == "nak":
                await msg.nak(delay=delay)
                self.stats.nacked += 1
            else:
                await msg.term()
                self.stats.terminated += 1
        except Exception:
            log.warning("could not acknowledge; JetStream redelivers after ack_wait", exc_info=True, extra={"consumer": self.durable})

    async def _ack_after(self, msg: Msg, pending: list[Awaitable[Any]]) -> None:
        results = await asyncio.gather(*pending, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            # Not acked: JetStream redelivers it, and the inbox, which remembers the
            # event as handled, writes its mark again instead of running the handler.
            self.stats.ack_write_failures += 1
            log.error(
                "a write the ack waited for failed; leaving the message for redelivery",
                extra={"consumer": self.durable, "subject": msg.subject, "error": repr(failed[0])},
            )
            return
        with contextlib.suppress(Exception):
            await msg.ack()
            self.stats.acked += 1

    def _in_progress(self, msg: Msg, running: list[bool]) -> None:
        if running[0]:
            asyncio.get_running_loop().create_task(self._send_in_progress(msg, running))

    async def _send_in_progress(self, msg: Msg, running: list[bool]) -> None:
        with contextlib.suppress(Exception):
            await msg.in_progress()
        asyncio.get_running_loop().call_later(self._progress_s, self._in_progress, msg, running)
