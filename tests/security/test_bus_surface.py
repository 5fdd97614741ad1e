"""A service that exists only in this test gets everything from its bus
declaration alone: its stream (with retention from its settings), its
durable consumer, its dedup inbox and its NATS user. Against the hub as
`sightline up` runs it (JWT auth on), its handler's publish to a declared
subject arrives and its publish to an undeclared one is refused."""

from __future__ import annotations

import asyncio

from nats.js.api import DeliverPolicy
from pydantic import Field
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline.v1.presence_pb2 import ServicePresence
from sightline_cli.security import provision_device
from sightline_runtime import auth, subjects
from sightline_runtime.consumer import EventContext, HandlerSpec
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.service import Resources, Service
from sightline_runtime.settings import ServiceSettings
from sightline_runtime.streams import ConsumerSpec, StreamSpec
from sightline_runtime.surface import BusSurface, OwnedStream, Publish, Serve, Subscribe

from tests.edge.helpers import wait_for
from tests.security.conftest import DENIED_PUBLISH_TEXT, connect

ECHO = StreamSpec(name="ECHO", subjects=("echo.text.*",), description="what the echo service heard")

SURFACE = BusSurface(
    service="echo",
    description="a service that exists only in a test",
    subscribes=(
        Subscribe(
            HandlerSpec(
                "text",
                DeviceInput,
                consumer=ConsumerSpec("echo-inputs", subjects.UP_INPUT_ALL, "echo: typed text", deliver_policy=DeliverPolicy.NEW),
                dedup=True,
            ),
            "on_text",
        ),
    ),
    publishes=(Publish("echo.text.*", DeviceInput, ECHO),),
    streams=(OwnedStream(ECHO, retention_s=lambda settings: settings.echo_retention_hours * 3600.0),),
    # A request a device makes about its own data: the device token comes from the subject.
    serves=(Serve(subjects.device_request_all("echo", "whoami"), DeviceInput, DeviceInput, "whoami", per_device=True),),
)


class EchoSettings(ServiceSettings):
    echo_retention_hours: float = Field(default=3.0, gt=0)


class EchoHandlers:
    def __init__(self, resources: Resources) -> None:
        self.publisher = resources.publisher
        self.handled: list[str] = []

    async def on_text(self, event: DeviceInput, ctx: EventContext) -> None:
        # First a subject the declaration lacks, then the declared one, on one
        # connection: if the first were allowed it would arrive before the second.
        await self.publisher.publish(f"stray.text.{ctx.device_id}", event)
        await self.publisher.publish(subjects.domain("echo", "text", ctx.device_id), event, stream=ECHO)
        self.handled.append(event.text.text)

    async def whoami(self, body: bytes, *, device: str) -> tuple[DeviceInput, dict[str, str]]:
        asked = DeviceInput.FromString(body).text.text
        return DeviceInput(text=TextInput(text=f"{device} asked {asked}")), {}


async def test_a_new_service_gets_streams_consumers_and_permissions_from_its_declaration(secure_hub, admin, run_service):
    await provision_device(admin, secure_hub.security, "a")
    permissions = auth.service_permissions(SURFACE)
    text, _ = secure_hub.security.authority().issue("service-echo", permissions)
    creds = auth.write_secret(secure_hub.security.creds.service("echo"), text)
    assert "echo.text.*" in permissions.pub_allow
    assert not any(subjects.subject_matches("stray.text.a", allowed) for allowed in permissions.pub_allow)

    built: list[EchoHandlers] = []

    async def build(resources: Resources) -> EchoHandlers:
        built.append(EchoHandlers(resources))
        return built[-1]

    settings = EchoSettings(nats_url=secure_hub.url, nats_credentials_file=str(creds), http_port=0, http_host="127.0.0.1")
    await run_service(Service(SURFACE, settings, build))

    js = admin.jetstream()
    stream = await js.stream_info("ECHO")
    assert stream.config.max_age == 3 * 3600.0
    consumer = await js.consumer_info("GLASSES_UP", "echo-inputs")
    assert consumer.config.filter_subject == subjects.UP_INPUT_ALL
    assert (await js.key_value("inbox_echo")).__class__.__name__ == "KeyValue"

    heard: list[str] = []

    async def hear(msg) -> None:
        heard.append(msg.subject)

    await admin.subscribe("echo.text.*", cb=hear)
    await admin.subscribe("stray.>", cb=hear)
    event = DeviceInput(meta=new_meta("a", "glasses"), text=TextInput(text="hello"))
    await js.publish(subjects.up_input("a"), event.SerializeToString(), headers=event_headers(event))
    await wait_for(lambda: "echo.text.a" in heard, 10, "the declared publish")
    await asyncio.sleep(0.3)
    assert heard == ["echo.text.a"], "the undeclared subject must be refused by the hub"
    assert built[0].handled == ["hello"]
    # Its presence beats are allowed too (every service announces itself on presence.<service>).
    beat = await admin.subscribe("presence.echo")
    assert ServicePresence.FromString((await beat.next_msg(timeout=2)).data).service == "echo"

    # A device's request about itself is answered, with the device the hub vouches for.
    await provision_device(admin, secure_hub.security, "b")
    _, device_creds_a, _ = await provision_device(admin, secure_hub.security, "a")
    device, device_errors = await connect(secure_hub.url, str(device_creds_a), inbox_prefix=auth.device_inbox_prefix("a").encode())
    asked = DeviceInput(text=TextInput(text="hi")).SerializeToString()
    reply = await device.request(subjects.device_request("a", "echo", "whoami"), asked, timeout=5)
    assert DeviceInput.FromString(reply.data).text.text == "a asked hi"
    # Naming another device is refused by the hub: no request leaves the connection.
    await device.publish(subjects.device_request("b", "echo", "whoami"), asked)
    await device.flush()
    assert await device_errors.wait_for(DENIED_PUBLISH_TEXT)
    await device.close()


async def test_the_refusal_is_the_servers(secure_hub):
    """The same publish, straight from the echo user's connection: the hub
    reports a permissions violation (nothing client-side decides it)."""
    text, _ = secure_hub.security.authority().issue("service-echo", auth.service_permissions(SURFACE))
    creds = auth.write_secret(secure_hub.security.creds.service("echo"), text)
    nc, errors = await connect(secure_hub.url, str(creds))
    await nc.publish("stray.text.a", b"x")
    await nc.flush()
    assert await errors.wait_for(DENIED_PUBLISH_TEXT)
    await nc.close()
