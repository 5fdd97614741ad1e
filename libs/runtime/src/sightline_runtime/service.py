"""One Sightline service: broker, guarded handlers, device registry,
health/metrics HTTP, tracing and logs, run under uvicorn until SIGTERM.

A service's app.py gives a Service its bus surface (its bus.py), its
settings and a `build` function. At start-up the Service connects, creates
what the surface owns, opens the device registry, the dedup inbox, privacy
control and the declared buckets, and only then calls `build(resources)`
to construct the handlers from them, whole; then it subscribes the
declared handlers. On SIGTERM readiness drops first, then in-flight
handlers finish (graceful_timeout), then the NATS connection drains.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import nats
import uvicorn
from faststream.asgi import AsgiFastStream
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.annotations import NatsMessage
from faststream.nats.response import NatsResponse
from faststream.nats.security import NatsCredentials, NatsNKey, NatsSecurity, NatsUserPassword
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry.sdk.trace import TracerProvider
from sightline.v1.input_pb2 import DeviceInput

from sightline_runtime import privacy, subjects
from sightline_runtime.auth import service_inbox_prefix
from sightline_runtime.consumer import EventGuard, HandlerSpec
from sightline_runtime.core import CoreSubscriber
from sightline_runtime.devices import DeviceDirectory, DeviceRegistry
from sightline_runtime.health_grpc import GrpcHealthServer
from sightline_runtime.http import Readiness, health_routes
from sightline_runtime.inbox import Inbox, MemoryInbox
from sightline_runtime.logs import MESSAGE_LOG_LEVEL, broker_logger, configure_logging
from sightline_runtime.metrics import ServiceMetrics
from sightline_runtime.presence import PresenceAnnouncer, PresenceTracker
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.pull import PullConsumer
from sightline_runtime.settings import NatsSettings, ServiceSettings
from sightline_runtime.streams import AUDIT, PLATFORM_STREAMS, StreamSpec, ensure_bucket, ensure_object_store, ensure_streams
from sightline_runtime.surface import BusSurface, Serve, Subscribe
from sightline_runtime.telemetry import make_tracer_provider, telemetry_middleware

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
# Builds the service's handler object from opened resources.
Build = Callable[["Resources"], Awaitable[Any]]


def nats_security(settings: NatsSettings) -> NatsSecurity | None:
    if settings.nats_credentials_file:
        return NatsCredentials(settings.nats_credentials_file)
    if settings.nats_nkey_seed_file:
        return NatsNKey(settings.nats_nkey_seed_file)
    if settings.nats_user:
        return NatsUserPassword(settings.nats_user, settings.nats_password.get_secret_value())
    return None


@dataclass
class Resources:
    """Everything a service's handlers are built from, already open."""

    service: str
    instance: str
    settings: Any
    publisher: EventPublisher
    metrics: ServiceMetrics
    readiness: Readiness
    # The registry mirror, or the fixed directory a test gave.
    devices: DeviceDirectory
    registry: DeviceRegistry | None
    js: JetStreamContext | None
    buckets: dict[str, Any] = field(default_factory=dict)
    object_stores: dict[str, Any] = field(default_factory=dict)
    # Following the presence of the services the surface watches (None: it watches none, or in memory).
    presence: PresenceTracker | None = None
    shutdown_hooks: list[Hook] = field(default_factory=list)

    def on_shutdown(self, hook: Hook) -> Hook:
        """Run after consuming stopped and the connection drained (close engines here)."""
        self.shutdown_hooks.append(hook)
        return hook

    def on_privacy_change(self, listener: Callable[[str, bool], None]) -> None:
        """Call listener(device_id, enabled) when a device's privacy mode
        changes (from the registry mirror, in every replica)."""
        if self.registry is not None:
            self.registry.privacy_listeners.append(listener)


@dataclass
class _Pending:
    """A durable consumer whose stream (owned by another service) does not exist yet."""

    sub: Subscribe
    spec: HandlerSpec[Any]
    handler: Any
    subscriber: Any = None


class Service:
    def __init__(
        self,
        surface: BusSurface,
        settings: ServiceSettings,
        build: Build,
        *,
        tracer_provider: TracerProvider | None = None,
        directory: DeviceDirectory | None = None,
    ) -> None:
        self.surface = surface
        self.name = surface.service
        self.settings = settings
        self._build = build
        self.instance = settings.instance or socket.gethostname()
        self.metrics = ServiceMetrics(self.name)
        self.metrics.info.labels(self.name, self.instance).set(1)
        self.metrics.mark_ready(False)
        self.tracer_provider = tracer_provider or make_tracer_provider(self.name, instance=self.instance)
        self.broker = NatsBroker(
            settings.nats_url,
            name=f"{self.name}/{self.instance}",
            middlewares=[telemetry_middleware(self.tracer_provider)],
            security=nats_security(settings),
            graceful_timeout=settings.graceful_timeout_s,
            drain_timeout=settings.drain_timeout_s,
            connect_timeout=int(max(1, settings.nats_connect_timeout_s)),
            max_reconnect_attempts=-1,  # a hub restart must not end the service
            # Replies to this service arrive under its own prefix, which only it may read.
            inbox_prefix=service_inbox_prefix(self.name),
            # faststream logs every message it takes at log_level: DEBUG, or a flood is a flood of lines too.
            logger=broker_logger(self.name),
            log_level=MESSAGE_LOG_LEVEL,
        )
        self.publisher = EventPublisher(self.broker, self.name, self.metrics)
        self.readiness = Readiness()
        self.readiness.add("broker", self._broker_ok)
        self.readiness.add("subscriptions", lambda: self.handlers is not None)
        # A consumer of a stream another service owns waits for it without making
        # this service unready: its other handlers work (a rollout of overlay
        # alone must not stall because asr was never deployed).
        self.readiness.add_degraded(
            "waiting_for_streams",
            lambda: [f"{p.spec.name}: no stream holds {p.spec.consumer.filter_subject} yet" for p in self._pending if p.spec.consumer],
        )
        self._fixed_directory = directory
        # Built at start-up, whole: the guard (with its directory and inbox) and the handlers.
        self.guard: EventGuard | None = None
        self.handlers: Any = None
        self.resources: Resources | None = None
        self._pending: list[_Pending] = []
        # Durable consumers on the hot path (sightline_runtime.pull), started once the broker is.
        self._pull_consumers: list[PullConsumer] = []
        self._core_subscribers: list[CoreSubscriber] = []
        self._attach_task: asyncio.Task[None] | None = None
        self._grpc = GrpcHealthServer(self.name, settings.grpc_health_port) if settings.grpc_health_port else None
        self._status_task: asyncio.Task[None] | None = None
        # Presence: what this instance is subscribed to, beaten on presence.<service> (sightline_runtime.presence).
        self.subscribed: list[str] = []
        self._presence: PresenceAnnouncer | None = None
        self._server: uvicorn.Server | None = None
        self._served = False
        self.app = AsgiFastStream(
            self.broker,
            asgi_routes=health_routes(self.name, self.readiness, self.metrics.registry),
            logger=logging.getLogger(f"sightline.{self.name}"),
            on_startup=[self._on_startup],
            after_startup=[self._after_startup],
            on_shutdown=[self._on_shutdown],
            after_shutdown=[self._after_shutdown],
        )

    # --- start-up: open, build, subscribe ---
    def streams(self) -> list[StreamSpec]:
        """The streams this service creates: the platform's and its own (retention from settings)."""
        own = [owned.resolved(self.settings) for owned in self.surface.streams]
        platform = [self._with_audit_retention(spec) for spec in PLATFORM_STREAMS]
        return [*platform, *own]

    def _with_audit_retention(self, spec: StreamSpec) -> StreamSpec:
        if spec.name != AUDIT.name:
            return spec
        return replace(spec, max_age_s=self.settings.audit_retention_days * 86400.0)

    async def _open(self) -> Resources:
        js = self.broker.connection.jetstream()
        replicas = self.settings.stream_replicas
        await ensure_streams(js, self.streams(), replicas=replicas)
        registry: DeviceRegistry | None = None
        if self._fixed_directory is None:
            registry = DeviceRegistry(js, replicas=replicas)
            await registry.start()
            self.readiness.add("device_registry", lambda: registry.synced)
        inbox = None
        if self.surface.dedup:
            # A claim older than ack_wait belongs to a delivery JetStream has given up on.
            inbox = await Inbox.open(
                js, self.name, ttl_s=self.settings.inbox_ttl_s, lease_s=self.settings.ack_wait_s, replicas=replicas, instance=self.instance
            )
        buckets = {use.bucket.name: await ensure_bucket(js, use.bucket, replicas=replicas) for use in self.surface.buckets}
        stores: dict[str, Any] = {}
        for use in self.surface.object_stores:
            if use.owns:
                stores[use.store.name] = await ensure_object_store(
                    js,
                    use.store,
                    ttl_s=use.ttl_s(self.settings) if use.ttl_s else None,
                    max_bytes=use.max_bytes(self.settings) if use.max_bytes else None,
                    replicas=replicas,
                )
            else:
                stores[use.store.name] = await js.object_store(use.store.name)
        presence = None
        if self.surface.watches:
            # No queue group: every replica hears every beat.
            presence = await PresenceTracker(self.broker.connection, services=self.surface.watches).start()
        directory = registry if registry is not None else self._fixed_directory
        assert directory is not None
        self.guard = EventGuard(
            self.name, publisher=self.publisher, metrics=self.metrics, directory=directory, limits=self.settings, inbox=inbox
        )
        resources = Resources(
            self.name,
            self.instance,
            self.settings,
            self.publisher,
            self.metrics,
            self.readiness,
            directory,
            registry,
            js,
            buckets,
            stores,
            presence,
        )
        if presence is not None:
            resources.on_shutdown(presence.stop)
        return resources

    async def assemble(self, resources: Resources) -> None:
        """Build the handlers from `resources` and subscribe them (durables whose
        stream is not there yet are attached once it appears)."""
        self.resources = resources
        handlers = await self._build(resources)
        missing = [name for name in self.surface.handler_names() if not callable(getattr(handlers, name, None))]
        if missing:
            raise TypeError(f"{self.name}: the handler object lacks the declared methods {missing}")
        for sub in self.surface.subscribes:
            spec = sub.spec
            if sub.on_privacy_drop:
                spec = replace(spec, on_privacy_drop=getattr(handlers, sub.on_privacy_drop))
            await self._subscribe(sub, spec, getattr(handlers, sub.handler), resources.js)
        if self.surface.sensors and resources.registry is not None:
            # This service handles sensor data: it applies privacy requests itself
            # (its own durable consumer), so privacy holds even if others are down.
            assert self.guard is not None
            control = privacy.PrivacyControl(resources.registry, self.guard.audit)
            spec = HandlerSpec("privacy_request", DeviceInput, consumer=privacy.privacy_consumer(self.name))
            await self._subscribe(Subscribe(spec, "on_device_input"), spec, control.on_device_input, resources.js)
        for serve in self.surface.serves:
            self._serve(serve, getattr(handlers, serve.handler))
        self.handlers = handlers

    async def assemble_in_memory(self, directory: DeviceDirectory, inbox: Any = None) -> None:
        """Wire the handlers without a server, for unit tests with faststream's
        TestNatsBroker (no JetStream there: durables are plain subscribers)."""
        self.guard = EventGuard(
            self.name,
            publisher=self.publisher,
            metrics=self.metrics,
            directory=directory,
            limits=self.settings,
            inbox=inbox or MemoryInbox(),
        )
        await self.assemble(
            Resources(self.name, self.instance, self.settings, self.publisher, self.metrics, self.readiness, directory, None, None)
        )

    async def _subscribe(self, sub: Subscribe, spec: HandlerSpec[Any], handler: Any, js: JetStreamContext | None) -> None:
        assert self.guard is not None
        title = f"{self.name}.{spec.name}"
        if spec.consumer is None:
            if spec.admission is not None and spec.max_workers == 1 and js is not None:
                # A flood is shed before any per-message cost (sightline_runtime.core).
                guard = self.guard
                for subject in sub.replica_subjects(self.settings, self.instance):
                    core = CoreSubscriber(
                        self.broker.connection,
                        subject,
                        queue=spec.queue or self.name,
                        admit=lambda pulled, spec=spec: guard.admission.enforce(spec, pulled),
                        handle=lambda pulled, spec=spec, handler=handler: guard.handle(spec, handler, pulled, admitted=True),
                        tracer_provider=self.tracer_provider,
                    )
                    await core.start()
                    self._core_subscribers.append(core)
                    self.subscribed.append(subject)
                return
            guarded = self.guard.wrap(spec, handler, self.broker.context)
            for subject in sub.replica_subjects(self.settings, self.instance):
                self.broker.subscriber(subject, queue=spec.queue or self.name, max_workers=spec.max_workers, title=title)(guarded)
                self.subscribed.append(subject)
            return
        stream = await self._stream_of(js, spec.consumer.filter_subject)
        if stream is None:
            log.warning(
                "stream not there yet; the consumer is attached once its owner created it",
                extra={"handler": spec.name, "subject": spec.consumer.filter_subject},
            )
            self._pending.append(_Pending(sub, spec, handler))
            return
        self._durable(spec, handler, stream)

    async def _stream_of(self, js: JetStreamContext | None, subject: str) -> str | None:
        if js is None:
            return "memory"
        try:
            return await js.find_stream_name_by_subject(subject)
        except NotFoundError:
            return None

    def _durable(self, spec: HandlerSpec[Any], handler: Any, stream: str) -> Any:
        assert self.guard is not None
        assert spec.consumer is not None
        consumer = spec.consumer
        config = consumer.config(ack_wait_s=self.settings.ack_wait_s, max_deliver=self.settings.max_deliver)
        title = f"{self.name}.{spec.name}"
        self.subscribed.append(consumer.filter_subject)
        if stream == "memory":
            # TestNatsBroker has no JetStream: a plain faststream subscriber stands in.
            subscriber = self.broker.subscriber(
                consumer.filter_subject,
                stream=JStream(stream, declare=False),
                durable=consumer.durable,
                config=config,
                pull_sub=PullSub(batch_size=1 if spec.ordered else 16, timeout=5.0),
                max_workers=spec.max_workers,
                title=title,
            )
            subscriber(self.guard.wrap(spec, handler, self.broker.context))
            return subscriber
        guard = self.guard
        # An ordered exactly-once handler is consumed by one replica at a time
        # (the lease), which lets the inbox keep a watermark per device instead of
        # one KV create per event (inbox.py).
        lease = guard.inbox.lease(spec.name) if spec.dedup and spec.ordered and isinstance(guard.inbox, Inbox) else None
        pull = PullConsumer(
            self.broker.connection.jetstream(),
            stream,
            config,
            lambda pulled: guard.handle(spec, handler, pulled),
            batch=8 if spec.ordered else 16,
            ordered=spec.ordered,
            max_workers=spec.max_workers,
            lease=lease,
            tracer_provider=self.tracer_provider,
            title=title,
        )
        self._pull_consumers.append(pull)
        return pull

    async def _attach_pending(self) -> None:
        """Attach consumers whose stream appears later (its owner starts after us)."""
        js = self.broker.connection.jetstream()
        while self._pending:
            for pending in list(self._pending):
                assert pending.spec.consumer is not None
                stream = await self._stream_of(js, pending.spec.consumer.filter_subject)
                if stream is None:
                    continue
                if pending.subscriber is None:
                    pending.subscriber = self._durable(pending.spec, pending.handler, stream)
                try:
                    await pending.subscriber.start()
                except Exception:
                    # Stay not ready and try again: a consumer that cannot attach must be seen.
                    log.exception("could not attach a consumer; retrying", extra={"handler": pending.spec.name, "stream": stream})
                    continue
                self._pending.remove(pending)
                log.info("consumer attached", extra={"handler": pending.spec.name, "stream": stream})
            if self._pending:
                await asyncio.sleep(1.0)

    def _serve(self, serve: Serve, handler: Callable[..., Awaitable[tuple[Any, dict[str, str]]]]) -> None:
        async def answer(msg: NatsMessage) -> NatsResponse:
            body = msg.body if isinstance(msg.body, bytes) else bytes(msg.body)
            if serve.per_device:
                device = subjects.device_token(msg.raw_message.subject)
                if device is None:
                    raise RuntimeError(f"{serve.subject}: a per-device request without a device token")
                response, headers = await handler(body, device=device)
            else:
                response, headers = await handler(body)
            return NatsResponse(response.SerializeToString(), headers=headers)

        answer.__doc__ = handler.__doc__
        self.broker.subscriber(serve.subject, queue=self.name, title=f"{self.name}.serve.{serve.handler}")(answer)
        self.subscribed.append(serve.subject)

    # --- lifecycle ---
    async def _broker_ok(self) -> bool:
        # faststream's ping only reads is_connected: a hub that stopped answering looks ready for minutes.
        nc = self.broker.connection
        if nc is None or not nc.is_connected:
            return False
        try:
            await nc.flush(timeout=1.0)  # a PING the server must answer
        except (nats.errors.TimeoutError, nats.errors.ConnectionClosedError, TimeoutError):
            return False
        return True

    async def _on_startup(self) -> None:
        try:
            await asyncio.wait_for(self.broker.connect(), self.settings.nats_startup_timeout_s)
        except TimeoutError:
            log.error(
                "cannot reach NATS; giving up start-up",
                extra={"nats_url": self.settings.nats_url, "timeout_s": self.settings.nats_startup_timeout_s},
            )
            raise
        await self.assemble(await self._open())
        if self._grpc is not None:
            await self._grpc.start()

    async def _after_startup(self) -> None:
        for pull in self._pull_consumers:
            await pull.start()
        self._status_task = asyncio.create_task(self._publish_status(), name=f"{self.name}-status")
        # subscribed is read at each beat: consumers attached later are announced too.
        self._presence = PresenceAnnouncer(self.broker.connection, self.name, self.instance, self.readiness.evaluate, self.subscribed.copy)
        self._presence.start()
        if self._pending:
            self._attach_task = asyncio.create_task(self._attach_pending(), name=f"{self.name}-attach")
        log.info("service started", extra={"instance": self.instance, "http_port": self.settings.http_port})

    async def _publish_status(self) -> None:
        """Mirror readiness into the metric and the gRPC health service."""
        while True:
            ready = all((await self.readiness.evaluate()).values())
            self.metrics.mark_ready(ready)
            if self._grpc is not None:
                await self._grpc.set_serving(ready)
            await asyncio.sleep(2.0)

    async def _on_shutdown(self) -> None:
        self.readiness.draining = True
        self.metrics.mark_ready(False)
        if self._presence is not None:
            await self._presence.stop()  # one ready=false beat: consumers of presence stop counting on us now
        tasks = [task for task in (self._status_task, self._attach_task) if task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a readiness check inside an anyio cancel scope may swallow the cancel.
            await asyncio.wait(tasks, timeout=2.0)
        # Stop pulling before the connection drains: handlers in progress finish and are acked.
        await asyncio.gather(*(pull.stop(timeout_s=self.settings.graceful_timeout_s) for pull in self._pull_consumers))
        for core in self._core_subscribers:
            await core.stop()
        if self._grpc is not None:
            await self._grpc.set_serving(False)
        log.info("service draining")

    async def _after_shutdown(self) -> None:
        hooks = self.resources.shutdown_hooks if self.resources is not None else []
        for hook in reversed(hooks):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        if self.guard is not None and isinstance(self.guard.inbox, Inbox):
            await self.guard.inbox.close()
        if self.resources is not None and self.resources.registry is not None:
            await self.resources.registry.stop()
        if self._grpc is not None:
            await self._grpc.stop()
        self.tracer_provider.force_flush(timeout_millis=2000)
        log.info("service stopped")

    async def serve(self) -> bool:
        """Serve HTTP and consume events until stop() or SIGTERM/SIGINT.
        Returns False when start-up failed."""
        config = uvicorn.Config(
            self.app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(self.settings.graceful_timeout_s),
        )
        self._server = uvicorn.Server(config)
        try:
            await self._server.serve()
        except SystemExit:
            # uvicorn exits the process itself when the lifespan start-up fails.
            return False
        finally:
            self._served = True
        return self._server.started

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    @property
    def started(self) -> bool:
        return self._server is not None and self._server.started

    @property
    def stopped(self) -> bool:
        """serve() has returned: consumers drained, leases released, the broker closed
        (the HTTP port is free earlier, before the shutdown hooks run)."""
        return self._served

    def run(self) -> None:
        """Entry point of the service's process."""
        configure_logging(self.name, level=self.settings.log_level, fmt=self.settings.log_format)
        ok = asyncio.run(self.serve())
        if not ok:
            log.error("service failed to start; exiting so the supervisor can restart it")
            sys.exit(1)
