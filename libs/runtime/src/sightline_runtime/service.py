"""One Sightline service: broker, guarded handlers, device registry,
health/metrics HTTP, tracing and logs, run under uvicorn until SIGTERM.

A service's app.py builds a Service, subscribes its handlers and calls
run(). On SIGTERM readiness drops first, then in-flight handlers finish
(graceful_timeout), then the NATS connection drains and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import uvicorn
from faststream.asgi import AsgiFastStream
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.security import NatsCredentials, NatsNKey, NatsSecurity, NatsUserPassword
from google.protobuf.message import Message
from opentelemetry.sdk.trace import TracerProvider
from sightline.v1.input_pb2 import DeviceInput

from sightline_runtime import privacy
from sightline_runtime.auth import service_inbox_prefix
from sightline_runtime.consumer import EventGuard, Handler, HandlerSpec
from sightline_runtime.devices import DeviceDirectory, DeviceRegistry
from sightline_runtime.health_grpc import GrpcHealthServer
from sightline_runtime.http import Readiness, health_routes
from sightline_runtime.inbox import Inbox
from sightline_runtime.logs import configure_logging
from sightline_runtime.metrics import ServiceMetrics
from sightline_runtime.publisher import EventPublisher
from sightline_runtime.settings import NatsSettings, ServiceSettings
from sightline_runtime.streams import ASR, AUDIT, DEAD_LETTERS, ERRORS, GLASSES_UP, TRANSLATION, StreamSpec, ensure_streams
from sightline_runtime.telemetry import make_tracer_provider, telemetry_middleware

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
Hook = Callable[[], Awaitable[None]]


def nats_security(settings: NatsSettings) -> NatsSecurity | None:
    if settings.nats_credentials_file:
        return NatsCredentials(settings.nats_credentials_file)
    if settings.nats_nkey_seed_file:
        return NatsNKey(settings.nats_nkey_seed_file)
    if settings.nats_user:
        return NatsUserPassword(settings.nats_user, settings.nats_password.get_secret_value())
    return None


class _NoDevices:
    """Until the registry is mirrored, no device is known (nothing is consumed yet)."""

    async def lookup(self, device_id: str) -> None:
        return None


class Service:
    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        *,
        streams: Sequence[StreamSpec] = (),
        tracer_provider: TracerProvider | None = None,
        directory: DeviceDirectory | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.instance = settings.instance or socket.gethostname()
        self.metrics = ServiceMetrics(name)
        self.metrics.info.labels(name, self.instance).set(1)
        self.metrics.mark_ready(False)
        self.tracer_provider = tracer_provider or make_tracer_provider(name, instance=self.instance)
        self.broker = NatsBroker(
            settings.nats_url,
            name=f"{name}/{self.instance}",
            middlewares=[telemetry_middleware(self.tracer_provider)],
            security=nats_security(settings),
            graceful_timeout=settings.graceful_timeout_s,
            drain_timeout=settings.drain_timeout_s,
            connect_timeout=int(max(1, settings.nats_connect_timeout_s)),
            max_reconnect_attempts=-1,  # a hub restart must not end the service
            # Replies to this service arrive under its own prefix, which only it may read.
            inbox_prefix=service_inbox_prefix(name),
            logger=logging.getLogger(f"sightline.{name}.broker"),
        )
        self.publisher = EventPublisher(self.broker, name, self.metrics)
        self.readiness = Readiness()
        self.readiness.add("broker", self._broker_ok)
        self._streams = tuple(dict.fromkeys((*streams, ERRORS, DEAD_LETTERS)))
        self._fixed_directory = directory
        self.devices: DeviceRegistry | None = None
        self.guard = EventGuard(name, publisher=self.publisher, metrics=self.metrics, directory=directory or _NoDevices(), limits=settings)
        self._startup_hooks: list[Hook] = []
        # Set once a handler processes camera or microphone data (HandlerSpec.sensor).
        self.privacy: privacy.PrivacyControl | None = None
        self._privacy_listeners: list[Callable[[str, bool], None]] = []
        self._shutdown_hooks: list[Hook] = []
        # Opened at start-up when a handler has dedup=True (sightline_runtime.inbox).
        self._needs_inbox = False
        self._grpc = GrpcHealthServer(name, settings.grpc_health_port) if settings.grpc_health_port else None
        self._status_task: asyncio.Task[None] | None = None
        self._server: uvicorn.Server | None = None
        self.app = AsgiFastStream(
            self.broker,
            asgi_routes=health_routes(name, self.readiness, self.metrics.registry),
            logger=logging.getLogger(f"sightline.{name}"),
            on_startup=[self._on_startup],
            after_startup=[self._after_startup],
            on_shutdown=[self._on_shutdown],
            after_shutdown=[self._after_shutdown],
        )

    # --- wiring (called from the service's app.py) ---
    def subscribe(self, spec: HandlerSpec[M], handler: Handler[M]) -> None:
        if spec.dedup:
            if spec.consumer is None:
                raise ValueError(f"{spec.name}: dedup=True needs a durable consumer (core NATS events are not redelivered)")
            self._needs_inbox = True
        if spec.sensor is not None and self.privacy is None:
            self._enforce_privacy()
        guarded = self.guard.wrap(spec, handler, self.broker.context)
        title = f"{self.name}.{spec.name}"
        if spec.consumer is not None:
            consumer = spec.consumer
            self.broker.subscriber(
                consumer.filter_subject,
                stream=JStream(consumer.stream.name, declare=False),
                durable=consumer.durable,
                config=consumer.config(ack_wait_s=self.settings.ack_wait_s, max_deliver=self.settings.max_deliver),
                pull_sub=PullSub(batch_size=1 if spec.ordered else 16, timeout=5.0),
                # faststream passes nats-py "_INBOX." for pull fetches unless told otherwise.
                inbox_prefix=f"{service_inbox_prefix(self.name)}.".encode(),
                max_workers=spec.max_workers,
                title=title,
            )(guarded)
        else:
            self.broker.subscriber(spec.subject, queue=spec.queue or self.name, max_workers=spec.max_workers, title=title)(guarded)

    def _enforce_privacy(self) -> None:
        """This service handles sensor data: it applies privacy requests itself
        (its own durable consumer), so privacy holds even if others are down."""
        self.privacy = privacy.PrivacyControl(None, self.guard.audit)
        self._streams = tuple(dict.fromkeys((*self._streams, GLASSES_UP, AUDIT)))
        spec = HandlerSpec("privacy_request", DeviceInput, consumer=privacy.privacy_consumer(self.name))
        self.subscribe(spec, self.privacy.on_device_input)

    def _with_retention(self, spec: StreamSpec) -> StreamSpec:
        """Streams holding transcripts and the audit trail keep them as configured."""
        hours = self.settings.transcript_retention_hours
        if spec.name in (ASR.name, TRANSLATION.name):
            return dataclasses.replace(spec, max_age_s=hours * 3600.0)
        if spec.name == AUDIT.name:
            return dataclasses.replace(spec, max_age_s=self.settings.audit_retention_days * 86400.0)
        return spec

    def on_privacy_change(self, listener: Callable[[str, bool], None]) -> None:
        """Call listener(device_id, enabled) when a device's privacy mode changes
        (from the registry mirror, in every replica)."""
        self._privacy_listeners.append(listener)

    def on_startup(self, hook: Hook) -> Hook:
        """Run after the broker connects and streams exist, before consuming (load models here)."""
        self._startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Run after consuming stopped and the connection drained."""
        self._shutdown_hooks.append(hook)
        return hook

    # --- lifecycle ---
    async def _broker_ok(self) -> bool:
        return await self.broker.ping(1.0)

    async def _on_startup(self) -> None:
        try:
            await asyncio.wait_for(self.broker.connect(), self.settings.nats_startup_timeout_s)
        except TimeoutError:
            log.error(
                "cannot reach NATS; giving up start-up",
                extra={"nats_url": self.settings.nats_url, "timeout_s": self.settings.nats_startup_timeout_s},
            )
            raise
        js = self.broker.connection.jetstream()
        await ensure_streams(js, [self._with_retention(spec) for spec in self._streams], replicas=self.settings.stream_replicas)
        if self._fixed_directory is None:
            self.devices = DeviceRegistry(js, replicas=self.settings.stream_replicas)
            await self.devices.start()
            self.guard.directory = self.devices
            self.devices.privacy_listeners.extend(self._privacy_listeners)
            if self.privacy is not None:
                self.privacy.registry = self.devices
            self.readiness.add("device_registry", lambda: self.devices is not None and self.devices.synced)
        if self._needs_inbox and self.guard.inbox is None:
            # A claim older than ack_wait belongs to a delivery JetStream has given up on.
            self.guard.inbox = await Inbox.open(
                js,
                self.name,
                ttl_s=self.settings.inbox_ttl_s,
                lease_s=self.settings.ack_wait_s,
                replicas=self.settings.stream_replicas,
                instance=self.instance,
            )
        for hook in self._startup_hooks:
            await hook()
        if self._grpc is not None:
            await self._grpc.start()

    async def _after_startup(self) -> None:
        self._status_task = asyncio.create_task(self._publish_status(), name=f"{self.name}-status")
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
        if self._status_task is not None:
            self._status_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._status_task
        if self._grpc is not None:
            await self._grpc.set_serving(False)
        log.info("service draining")

    async def _after_shutdown(self) -> None:
        for hook in reversed(self._shutdown_hooks):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        if self.devices is not None:
            await self.devices.stop()
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
        return self._server.started

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    @property
    def started(self) -> bool:
        return self._server is not None and self._server.started

    def run(self) -> None:
        """Entry point of the service's process."""
        configure_logging(self.name, level=self.settings.log_level, fmt=self.settings.log_format)
        ok = asyncio.run(self.serve())
        if not ok:
            log.error("service failed to start; exiting so the supervisor can restart it")
            sys.exit(1)
