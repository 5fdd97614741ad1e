"""The notification ingress, HTTP (uvicorn) and gRPC (grpc.aio) on free
ports, over a real nats-server: the device registry in JetStream KV, the
Notification events and cards published on the bus.

Refused pushes publish nothing: each refusal is followed by a good push,
and the next event on the subject is that one (one connection keeps order).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import nats
import pytest
import typer
from click.testing import Result
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from sightline.v1 import assistant_pb2_grpc
from sightline.v1.assistant_pb2 import (
    AssistantReply,
    Notification,
    NotificationDelivery,
    NotificationPriority,
    PushNotificationRequest,
    ReplyKind,
)
from sightline.v1.device_pb2 import DeviceRecord
from sightline_assistant.domain.notifications import NotificationLimits
from sightline_assistant.notifications import NotificationConfig, NotificationIntake
from sightline_assistant.notify_grpc import SERVICE_NAME
from sightline_assistant.notify_ingress import NotificationIngress
from sightline_assistant.state import DeviceState, MemoryState
from sightline_cli.commands.notify import notify
from sightline_runtime.api_keys import ALL_DEVICES, ApiKeys, key_digest
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.natsserver import NatsServer, NatsServerConfig
from typer.testing import CliRunner

PHONE_KEY = "phone-companion-key-0123456789"
OPS_KEY = "ops-server-key-9876543210"
LIMITS = NotificationLimits(source_per_s=0.5, source_burst=5)
CONFIG = NotificationConfig(host="127.0.0.1", max_request_bytes=16 * 1024, limits=LIMITS)


@dataclass
class Ingress:
    http: httpx.AsyncClient
    grpc: assistant_pb2_grpc.NotificationIngressServiceStub
    channel: grpc.aio.Channel
    notifications: Subscription
    cards: Subscription
    registry: DeviceRegistry
    publisher: Client
    intake: NotificationIntake
    state: DeviceState

    async def push(self, device: str, key: str | None = PHONE_KEY, **fields: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key is not None else {}
        return await self.http.post(f"/v1/devices/{device}/notifications", json=fields, headers=headers)

    async def next_notification(self) -> Notification:
        return Notification.FromString((await self.notifications.next_msg(timeout=5)).data)

    async def next_card(self) -> AssistantReply:
        return AssistantReply.FromString((await self.cards.next_msg(timeout=5)).data)


def bearer(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server for the module, started before any gRPC server: a
    fork() after gRPC's threads exist can abort the child (see the report)."""
    server = NatsServer(NatsServerConfig(store_dir=tmp_path_factory.mktemp("nats-notify"), name="hub")).start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(hub: NatsServer) -> str:
    return hub.url


@pytest.fixture
async def ingress(nats_url: str) -> AsyncIterator[Ingress]:
    nc = await nats.connect(nats_url)
    registry = DeviceRegistry(nc.jetstream())
    await registry.start()
    for device in ("dev-1", "dev-2", "dev-quiet", "dev-gone"):
        await registry.add(device)
    # The registry outlives a test (one server per module): each test starts from the same records.
    for device in ("dev-1", "dev-2", "dev-quiet"):

        def reset(record: DeviceRecord, device: str = device) -> bool:
            record.do_not_disturb = device == "dev-quiet"
            record.privacy.enabled = False
            return True

        await registry.update(device, reset)
    await registry.revoke("dev-gone")
    notifications = await nc.subscribe("assistant.notification.*")
    cards = await nc.subscribe("assistant.reply.*")
    # Events go out on their own connection, so a test can take the bus away from the intake alone.
    publisher = await nats.connect(nats_url)

    async def publish(notification: Notification) -> None:
        await publisher.publish(f"assistant.notification.{notification.meta.device_id}", notification.SerializeToString())

    async def show(card: AssistantReply) -> None:
        await publisher.publish(f"assistant.reply.{card.meta.device_id}", card.SerializeToString())

    state = DeviceState(MemoryState())
    intake = NotificationIntake.create(CONFIG, lookup=registry.lookup, publish=publish, show=show, navigating=state.navigating)
    keys = ApiKeys(
        {
            key_digest(PHONE_KEY): {"name": "phone-companion", "devices": ["dev-1", "dev-quiet", "dev-gone", "ghost"]},
            key_digest(OPS_KEY): {"name": "ops-server", "devices": ALL_DEVICES},
        }
    )
    running = await NotificationIngress.start(CONFIG, keys, intake.deliver, listen_any_port=True)
    try:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.http_port}", timeout=10) as http,
            grpc.aio.insecure_channel(f"127.0.0.1:{running.grpc_port}") as channel,
        ):
            yield Ingress(
                http,
                assistant_pb2_grpc.NotificationIngressServiceStub(channel),
                channel,
                notifications,
                cards,
                registry,
                publisher,
                intake,
                state,
            )
    finally:
        await running.stop()
        await registry.stop()
        if not publisher.is_closed:
            await publisher.close()
        await nc.close()


async def test_a_push_is_published_and_shown_as_a_card(ingress: Ingress) -> None:
    reply = await ingress.push("dev-1", title="Train delayed", body="S1 runs 10 min late", dedup_key="s1-0815")
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["delivery"] == "shown"
    event = await ingress.next_notification()
    assert (event.notification_id, event.meta.event_id, event.meta.device_id) == (answer["notification_id"],) * 2 + ("dev-1",)
    assert (event.source, event.title, event.body, event.dedup_key) == (
        "phone-companion",
        "Train delayed",
        "S1 runs 10 min late",
        "s1-0815",
    )
    assert (event.priority, event.delivery) == (
        NotificationPriority.NOTIFICATION_PRIORITY_NORMAL,
        NotificationDelivery.NOTIFICATION_DELIVERY_SHOWN,
    )
    card = await ingress.next_card()
    assert (card.kind, card.title, card.reference_id, card.urgent) == (
        ReplyKind.REPLY_KIND_NOTIFICATION,
        "Train delayed",
        event.notification_id,
        False,
    )
    assert card.meta.causation_id == event.meta.event_id


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-key", f"Basic {PHONE_KEY}", "Bearer", PHONE_KEY],
    ids=["none", "unknown", "basic", "empty", "no-scheme"],
)
async def test_a_wrong_or_missing_key_is_401_and_publishes_nothing(ingress: Ingress, authorization: str | None) -> None:
    headers = {"authorization": authorization} if authorization is not None else {}
    reply = await ingress.http.post("/v1/devices/dev-1/notifications", json={"title": "hi"}, headers=headers)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert reply.json()["error"] == "unauthenticated"
    assert PHONE_KEY not in reply.text
    assert (await ingress.push("dev-1", title="after")).status_code == 200
    assert (await ingress.next_notification()).title == "after"


async def test_a_device_outside_the_keys_scope_is_403(ingress: Ingress) -> None:
    reply = await ingress.push("dev-2", title="not yours")
    assert (reply.status_code, reply.json()) == (403, {"error": "forbidden", "detail": "this API key may not reach device dev-2"})
    # A key for every device reaches it.
    assert (await ingress.push("dev-2", OPS_KEY, title="ops")).json()["delivery"] == "shown"
    event = await ingress.next_notification()
    assert (event.title, event.source) == ("ops", "ops-server")


async def test_an_unknown_or_revoked_device_is_404(ingress: Ingress) -> None:
    for device in ("ghost", "dev-gone"):
        reply = await ingress.push(device, title="anyone there?")
        assert (reply.status_code, reply.json()["detail"]) == (404, f"no active device {device}")
    # An id that is no device id at all is a bad request, for a key that may reach any device.
    reply = await ingress.push("dev.1", OPS_KEY, title="x")
    assert reply.status_code == 422
    assert "invalid device id" in reply.json()["detail"]


async def test_a_10000_character_body_is_413_with_a_clear_error_and_nothing_is_lost(ingress: Ingress) -> None:
    text = ("word " * 2000).strip() + "."
    assert len(text) == 10_000
    reply = await ingress.push("dev-1", title="Long read", body=text)
    assert reply.status_code == 413
    assert reply.json() == {
        "error": "too_large",
        "detail": "body has 10000 characters, at most 2000 are accepted: shorten it or split it (nothing was delivered)",
    }
    # Nothing half-sent: the sender still has the whole text and sends it in parts.
    parts = [text[i : i + 2000] for i in range(0, len(text), 2000)]
    for number, part in enumerate(parts, 1):
        assert (await ingress.push("dev-1", OPS_KEY, title=f"Long read ({number}/{len(parts)})", body=part)).status_code == 200
    received = [await ingress.next_notification() for _ in parts]
    assert [event.title for event in received] == [f"Long read ({n}/5)" for n in range(1, 6)]
    assert [event.body for event in received] == [part.strip() for part in parts]


async def test_a_request_over_the_byte_limit_is_413_before_it_is_parsed(ingress: Ingress) -> None:
    body = b'{"title": "x", "body": "' + b"y" * (20 * 1024) + b'"}'
    reply = await ingress.http.post(
        "/v1/devices/dev-1/notifications",
        content=body,
        headers={"authorization": f"Bearer {PHONE_KEY}", "content-type": "application/json"},
    )
    assert (reply.status_code, reply.json()["detail"]) == (413, f"the request has {len(body)} bytes, at most 16384 are accepted")

    async def chunks() -> AsyncIterator[bytes]:
        # No content-length: the limit holds while reading.
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    reply = await ingress.http.post("/v1/devices/dev-1/notifications", content=chunks(), headers={"authorization": f"Bearer {PHONE_KEY}"})
    assert (reply.status_code, reply.json()["detail"]) == (413, "the request is over 16384 bytes")


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"title": "x",', "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        (b'["title"]', "the body is a JSON object"),
        (b'{"title": 5}', "title is a string, not int"),
        (b'{"title": "x", "colour": "red"}', "unknown fields ['colour']"),
        (b'{"title": "x", "priority": "asap"}', "priority is low, normal or urgent, not 'asap'"),
        (b'{"body": "no title"}', "title is required"),
    ],
)
async def test_malformed_requests_are_422_saying_why(ingress: Ingress, content: bytes, detail: str) -> None:
    reply = await ingress.http.post("/v1/devices/dev-1/notifications", content=content, headers={"authorization": f"Bearer {PHONE_KEY}"})
    assert reply.status_code == 422
    assert detail in reply.json()["detail"]


async def test_a_source_over_its_rate_is_429_and_others_are_not(ingress: Ingress) -> None:
    statuses = [(await ingress.push("dev-1", title=f"m{i}")).status_code for i in range(6)]
    assert statuses == [200] * 5 + [429]
    limited = await ingress.push("dev-1", title="more")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
    assert "source 'phone-companion' pushes faster than its rate allows" in limited.json()["detail"]
    assert (await ingress.push("dev-1", OPS_KEY, title="ops")).status_code == 200


async def test_a_repeated_dedup_key_is_a_duplicate_published_once(ingress: Ingress) -> None:
    first = (await ingress.push("dev-1", title="Build 42 failed", dedup_key="build-42")).json()
    again = (await ingress.push("dev-1", title="Build 42 failed", dedup_key="build-42")).json()
    assert again == {"notification_id": first["notification_id"], "delivery": "duplicate"}
    await ingress.push("dev-1", title="next")
    assert [(await ingress.next_notification()).title for _ in range(2)] == ["Build 42 failed", "next"]


async def test_do_not_disturb_holds_normal_ones_and_lets_urgent_through(ingress: Ingress) -> None:
    held = await ingress.push("dev-quiet", title="Lunch?", priority="normal")
    assert held.json()["delivery"] == "held"
    event = await ingress.next_notification()
    assert (event.title, event.delivery) == ("Lunch?", NotificationDelivery.NOTIFICATION_DELIVERY_HELD)
    urgent = await ingress.push("dev-quiet", title="Front door open", priority="URGENT")
    assert urgent.json()["delivery"] == "shown"
    assert (await ingress.next_notification()).priority == NotificationPriority.NOTIFICATION_PRIORITY_URGENT
    # Only the urgent one became a card.
    card = await ingress.next_card()
    assert (card.title, card.urgent) == ("Front door open", True)


async def test_privacy_mode_and_navigation_hold_too_and_held_ones_stay_unread(ingress: Ingress) -> None:
    await ingress.state.set_navigating("dev-1", "Central Station")
    assert (await ingress.push("dev-1", title="Newsletter", priority="low")).json()["delivery"] == "held"
    assert (await ingress.push("dev-1", title="Turn back", priority="urgent")).json()["delivery"] == "shown"
    await ingress.state.set_navigating("dev-1", None)

    def private(record: DeviceRecord) -> bool:
        record.privacy.enabled = True
        return True

    await ingress.registry.update("dev-1", private)
    assert (await ingress.push("dev-1", title="Chat message")).json()["delivery"] == "held"
    assert [(n.title, n.delivery) for n in ingress.intake.take_unread("dev-1")] == [
        ("Newsletter", NotificationDelivery.NOTIFICATION_DELIVERY_HELD),
        ("Turn back", NotificationDelivery.NOTIFICATION_DELIVERY_SHOWN),
        ("Chat message", NotificationDelivery.NOTIFICATION_DELIVERY_HELD),
    ]
    assert ingress.intake.unread_count("dev-1") == 0
    # Only the urgent one became a card.
    assert (await ingress.next_card()).title == "Turn back"


async def test_with_the_bus_away_a_push_is_503_and_its_retry_is_not_a_duplicate(ingress: Ingress, nats_url: str) -> None:
    await ingress.publisher.close()
    reply = await ingress.push("dev-1", title="Build 7", dedup_key="b7")
    assert (reply.status_code, reply.json()["detail"]) == (503, "the notification could not be delivered now, try again")
    await ingress.publisher.connect(nats_url)
    assert (await ingress.push("dev-1", title="Build 7", dedup_key="b7")).json()["delivery"] == "shown"
    assert (await ingress.next_notification()).title == "Build 7"


async def test_healthz_answers(ingress: Ingress) -> None:
    assert (await ingress.http.get("/healthz")).json() == {"status": "ok"}


# --- gRPC: the same checks, the same intake ---


async def test_grpc_health_reports_serving(ingress: Ingress) -> None:
    stub = health_pb2_grpc.HealthStub(ingress.channel)
    for service in ("", SERVICE_NAME):
        assert (await stub.Check(health_pb2.HealthCheckRequest(service=service))).status == health_pb2.HealthCheckResponse.SERVING
    assert SERVICE_NAME == "sightline.v1.NotificationIngressService"


async def test_grpc_push_is_published(ingress: Ingress) -> None:
    urgent = NotificationPriority.NOTIFICATION_PRIORITY_URGENT
    reply = await ingress.grpc.PushNotification(
        PushNotificationRequest(device_id="dev-quiet", title="Smoke alarm", priority=urgent), metadata=bearer(PHONE_KEY)
    )
    assert reply.delivery == NotificationDelivery.NOTIFICATION_DELIVERY_SHOWN
    event = await ingress.next_notification()
    assert (event.notification_id, event.source, event.title) == (reply.notification_id, "phone-companion", "Smoke alarm")


@pytest.mark.parametrize(
    ("request_", "metadata", "code", "details"),
    [
        (PushNotificationRequest(device_id="dev-1", title="x"), (), grpc.StatusCode.UNAUTHENTICATED, "missing or malformed API key"),
        (PushNotificationRequest(device_id="dev-1", title="x"), bearer("wrong"), grpc.StatusCode.UNAUTHENTICATED, "unknown API key"),
        (
            PushNotificationRequest(device_id="dev-2", title="x"),
            bearer(PHONE_KEY),
            grpc.StatusCode.PERMISSION_DENIED,
            "may not reach device dev-2",
        ),
        (PushNotificationRequest(device_id="ghost", title="x"), bearer(PHONE_KEY), grpc.StatusCode.NOT_FOUND, "no active device ghost"),
        (
            PushNotificationRequest(device_id="dev-1", title="x", body="b" * 10_000),
            bearer(PHONE_KEY),
            grpc.StatusCode.INVALID_ARGUMENT,
            "body has 10000 characters, at most 2000",
        ),
        (PushNotificationRequest(device_id="dev-1"), bearer(PHONE_KEY), grpc.StatusCode.INVALID_ARGUMENT, "title is required"),
        (PushNotificationRequest(device_id="", title="x"), bearer(OPS_KEY), grpc.StatusCode.INVALID_ARGUMENT, "invalid device id"),
    ],
    ids=["no-key", "wrong-key", "out-of-scope", "unknown-device", "oversized", "no-title", "no-device"],
)
async def test_grpc_refusals(
    ingress: Ingress, request_: PushNotificationRequest, metadata: tuple, code: grpc.StatusCode, details: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ingress.grpc.PushNotification(request_, metadata=metadata)
    assert refused.value.code() == code
    assert details in refused.value.details()
    await ingress.grpc.PushNotification(PushNotificationRequest(device_id="dev-1", title="after"), metadata=bearer(OPS_KEY))
    assert (await ingress.next_notification()).title == "after"


async def test_grpc_rate_limit_is_resource_exhausted_with_retry_after(ingress: Ingress) -> None:
    for i in range(5):
        await ingress.grpc.PushNotification(PushNotificationRequest(device_id="dev-1", title=f"m{i}"), metadata=bearer(PHONE_KEY))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ingress.grpc.PushNotification(PushNotificationRequest(device_id="dev-1", title="m5"), metadata=bearer(PHONE_KEY))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(refused.value.trailing_metadata() or ())["retry-after"] == "2"
    # The HTTP ingress shares the bucket: one source, one rate.
    assert (await ingress.push("dev-1", title="m6")).status_code == 429


# --- `sightline notify` against the running HTTP ingress ---


def notify_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    app = typer.Typer()
    app.command()(notify)
    # No terminal: rich prints plain lines; a wide one keeps messages on one line.
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "300", "SIGHTLINE_NOTIFY_KEY": "", "SIGHTLINE_NOTIFY_URL": ""} | (env or {}))


async def test_cli_pushes_a_notification(ingress: Ingress, tmp_path: Path) -> None:
    key_file = tmp_path / "phone.key"
    key_file.write_text(PHONE_KEY + "\n")
    url = str(ingress.http.base_url).rstrip("/")
    result = await asyncio.to_thread(
        notify_cli, "--device", "dev-1", "--title", "Parcel", "--body", "At the door", "--url", url, "--key-file", str(key_file)
    )
    assert result.exit_code == 0, result.output
    event = await ingress.next_notification()
    assert (event.title, event.body, event.source) == ("Parcel", "At the door", "phone-companion")
    assert f"notification {event.notification_id} to dev-1: shown on the HUD" in result.output
    assert PHONE_KEY not in result.output
    # The key from the environment; urgent through do-not-disturb.
    result = await asyncio.to_thread(
        notify_cli, "-d", "dev-quiet", "-t", "Door", "--priority", "urgent", "--url", url, env={"SIGHTLINE_NOTIFY_KEY": PHONE_KEY}
    )
    assert (result.exit_code, "shown on the HUD" in result.output) == (0, True)
    result = await asyncio.to_thread(notify_cli, "-d", "dev-quiet", "-t", "Later", "--url", url, env={"SIGHTLINE_NOTIFY_KEY": PHONE_KEY})
    assert "held: do-not-disturb, privacy mode or navigation is on" in result.output


async def test_cli_reports_refusals_clearly(ingress: Ingress, tmp_path: Path) -> None:
    url = str(ingress.http.base_url).rstrip("/")
    wrong = await asyncio.to_thread(notify_cli, "-d", "dev-1", "-t", "x", "--url", url, env={"SIGHTLINE_NOTIFY_KEY": "nope"})
    assert (wrong.exit_code, "the ingress refused the notification (401): unknown API key" in wrong.output) == (2, True)
    scope = await asyncio.to_thread(notify_cli, "-d", "dev-2", "-t", "x", "--url", url, env={"SIGHTLINE_NOTIFY_KEY": PHONE_KEY})
    assert (scope.exit_code, "(403): this API key may not reach device dev-2" in scope.output) == (2, True)
    long = await asyncio.to_thread(
        notify_cli, "-d", "dev-1", "-t", "x", "-b", "y" * 10_000, "--url", url, env={"SIGHTLINE_NOTIFY_KEY": PHONE_KEY}
    )
    assert (long.exit_code, "(413): body has 10000 characters, at most 2000 are accepted" in long.output) == (2, True)
    missing = await asyncio.to_thread(notify_cli, "-d", "dev-1", "-t", "x", "--url", url, "--key-file", str(tmp_path / "none.key"))
    assert (missing.exit_code, f"cannot read the API key from {tmp_path / 'none.key'}" in missing.output) == (2, True)
    # Nothing answering on that port.
    away = await asyncio.to_thread(
        notify_cli, "-d", "dev-1", "-t", "x", "--url", "http://127.0.0.1:9", env={"SIGHTLINE_NOTIFY_KEY": PHONE_KEY}
    )
    assert (away.exit_code, "cannot reach the notification ingress at http://127.0.0.1:9" in away.output) == (1, True)
    no_stack = await asyncio.to_thread(
        notify_cli, "-d", "dev-1", "-t", "x", "--state-dir", str(tmp_path), env={"SIGHTLINE_NOTIFY_KEY": PHONE_KEY}
    )
    assert (no_stack.exit_code, "no notification ingress: pass --url" in no_stack.output) == (2, True)
    assert "refused" not in (await ingress.push("dev-1", title="after")).text
    assert (await ingress.next_notification()).title == "after"


async def test_cli_finds_the_local_stacks_ingress_and_key(ingress: Ingress, tmp_path: Path) -> None:
    key_file = tmp_path / "creds" / "notify-local.key"
    key_file.parent.mkdir()
    key_file.write_text(OPS_KEY)
    # As `sightline up` records it (cli/src/sightline_cli/supervisor.py).
    stack = {
        "nats_url": "nats://127.0.0.1:4222",
        "nats_monitor_url": "http://127.0.0.1:8222",
        "state_dir": str(tmp_path),
        "supervisor_pid": os.getpid(),
        "started_at": "2026-12-03T18:00:00+00:00",
        "notify_url": str(ingress.http.base_url).rstrip("/"),
        "notify_key_file": str(key_file),
    }
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    result = await asyncio.to_thread(notify_cli, "-d", "dev-2", "-t", "From the stack", "--state-dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    event = await ingress.next_notification()
    assert (answer, event.source) == ({"notification_id": event.notification_id, "delivery": "shown"}, "ops-server")
