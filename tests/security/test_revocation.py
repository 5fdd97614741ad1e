"""`sightline devices revoke` against a real hub: a live client and a live
leaf connection are closed at once and cannot come back; the device's
sourcing works until then and its credentials file is gone after."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest
from sightline.v1.input_pb2 import DeviceInput, TextInput
from sightline_cli.security import revoke_device
from sightline_glasses.agent import GlassesAgent
from sightline_runtime import auth
from sightline_runtime.devices import DeviceRegistry, is_active
from sightline_runtime.events import new_meta

from tests.security.conftest import connect


async def test_revocation_closes_live_client_and_leaf_connections_for_good(secure_hub, admin, device_creds, secure_edge):
    creds_a = await device_creds("a")
    creds_b = await device_creds("b")
    edge = secure_edge("a", creds_a)
    assert await edge.wait_leaf(10)
    direct, _ = await connect(secure_hub.url, creds_a, inbox_prefix=auth.device_inbox_prefix("a"))
    other, _ = await connect(secure_hub.url, creds_b, inbox_prefix=auth.device_inbox_prefix("b"))

    # Before: the edge's up-link is sourced into the hub with the device's credentials.
    async with GlassesAgent.on_edge(edge) as agent:
        await agent.send_input(DeviceInput(meta=new_meta("a", "glasses"), text=TextInput(text="before")))
        assert await agent.wait_drained(15), f"still queued: {agent.queued}"
    info = await admin.jetstream().stream_info("GLASSES_UP", subjects_filter="glasses.a.up.input")
    assert info.state.messages == 1

    # A copy an attacker kept of the credentials file.
    stolen = auth.write_secret(Path(creds_a).with_name("stolen.creds"), Path(creds_a).read_text())
    system, _ = await connect(secure_hub.url, secure_hub.creds("system"))
    started = time.monotonic()
    record = await revoke_device(admin, system, secure_hub.security, "a")
    await system.close()
    assert not is_active(record)
    assert not Path(creds_a).exists(), "the credentials file is removed"
    for _ in range(100):
        if not direct.is_connected and edge.server.leaf_connections() == 0:
            break
        await asyncio.sleep(0.05)
    closed_after = time.monotonic() - started
    assert not direct.is_connected, "the live client is disconnected"
    assert edge.server.leaf_connections() == 0, "the live leaf connection is closed"
    assert closed_after < 5

    # It stays out: the leaf keeps retrying and is refused, the client's reconnects are refused.
    await asyncio.sleep(3)
    assert edge.server.leaf_connections() == 0
    assert not direct.is_connected
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secure_hub.url, user_credentials=str(stolen), allow_reconnect=False, connect_timeout=2)
    assert (await DeviceRegistry(admin.jetstream()).get("a")).public_key == record.public_key
    info = await admin.jetstream().stream_info("GLASSES_UP")
    assert not any(source.name == "UPLINK_a" for source in info.config.sources or []), "the hub no longer sources a"

    # Another device is untouched.
    assert other.is_connected
    await other.publish("glasses.b.up.audio", b"still here")
    await other.flush()
    await direct.close()
    await other.close()
