"""`sightline photos` against a real nats-server, answered by the library's
own request handlers over a real SQLite index and JetStream object store
(a tiny responder standing in for the vision service's Serve wiring)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from photo_library_helpers import T0, PhotoStore, entry
from sightline_cli.commands.photos import parse_moment
from sightline_cli.main import app
from sightline_runtime.natsserver import NatsServer
from sightline_vision.library import PhotoLibrary, PhotoRequests
from typer.testing import CliRunner

runner = CliRunner()
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


class Responder:
    """Answers glasses.*.rpc.vision.* with PhotoRequests, on a loop of its own
    (the CLI runs asyncio.run in the test's thread)."""

    def __init__(self, nats_url: str, db: Path) -> None:
        self.nats_url = nats_url
        self.db = db
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.library = await PhotoLibrary.open(f"sqlite+aiosqlite:///{self.db}")
        await self.library.index_many(
            [
                entry("smoke", texts=("禁止吸烟", "No Smoking"), tags=("street sign", "wall clock"), hours=1),
                entry("exit", texts=("出口 EXIT",), tags=("street sign",), hours=2),
                entry("theirs", "dev-b", texts=("禁止吸烟",), hours=1),
            ]
        )
        self.nc = await nats.connect(self.nats_url)
        self.photos = PhotoStore(self.nc, await self.nc.jetstream().create_object_store("photos"))
        for device, photo_id in (("dev-a", "smoke"), ("dev-a", "exit"), ("dev-b", "theirs")):
            await self.photos.put(device, photo_id)
        self.requests = PhotoRequests(self.library, self.photos.delete)
        await self.nc.subscribe("glasses.*.rpc.vision.*", cb=self._answer)

    async def _answer(self, msg) -> None:
        _, device, _, _, method = msg.subject.split(".")
        response, headers = await getattr(self.requests, method)(msg.data, device=device)
        await self.nc.publish(msg.reply, response.SerializeToString(), headers=headers or None)

    async def _stop(self) -> None:
        await self.nc.drain()
        await self.library.close()

    def __enter__(self) -> Responder:
        self.thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def vision(nats_server: NatsServer, tmp_path: Path) -> Iterator[Responder]:
    with Responder(nats_server.url, tmp_path / "library.db") as responder:
        yield responder


def photos(*args: str, server: str, state_dir: Path | None = None):
    where = ["--server", server] if server else []
    state = ["--state-dir", str(state_dir)] if state_dir else []
    return runner.invoke(app, ["photos", *args, *where, *state], env=ENV)


def test_list_search_and_show_a_devices_photos(vision: Responder, nats_server: NatsServer) -> None:
    listed = photos("list", "--device", "dev-a", server=nats_server.url)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.index("exit") < listed.stdout.index("smoke")  # newest first
    assert "theirs" not in listed.stdout
    assert "1-2 of 2" in listed.stdout

    found = photos("search", "吸烟", "--device", "dev-a", server=nats_server.url)
    assert found.exit_code == 0, found.output
    for expected in ("smoke", "禁止吸烟", "score"):
        assert expected in found.stdout
    assert "exit" not in found.stdout.replace("photos of dev-a", "")

    tagged = photos("list", "-d", "dev-a", "--tag", "wall clock", server=nats_server.url)
    assert "smoke" in tagged.stdout
    assert "exit" not in tagged.stdout.replace("photos of dev-a", "")

    shown = photos("show", "smoke", "--device", "dev-a", server=nats_server.url)
    assert shown.exit_code == 0, shown.output
    for expected in ("禁止吸烟", "No Smoking", "street sign", "wall clock", "1280x960", "no faces", "dev-a/smoke"):
        assert expected in shown.stdout


def test_json_output_is_the_records(vision: Responder, nats_server: NatsServer) -> None:
    found = photos("search", "no smoking", "--device", "dev-a", "--json", server=nats_server.url)
    assert found.exit_code == 0, found.output
    page = json.loads(found.stdout)
    assert page["total"] == 1
    [record] = page["photos"]
    assert (record["photo_id"], record["device_id"], record["width"]) == ("smoke", "dev-a", 1280)
    assert [r["text"] for r in record["text_regions"]] == ["禁止吸烟", "No Smoking"]
    assert record["score"] > 0
    shown = json.loads(photos("show", "exit", "-d", "dev-a", "--json", server=nats_server.url).stdout)
    assert dt.datetime.fromisoformat(shown["captured_at"].replace("Z", "+00:00")) == T0 + dt.timedelta(hours=2)


def test_a_device_sees_only_its_own_photos(vision: Responder, nats_server: NatsServer) -> None:
    theirs = photos("list", "--device", "dev-b", "--json", server=nats_server.url)
    assert [p["photo_id"] for p in json.loads(theirs.stdout)["photos"]] == ["theirs"]
    missing = photos("show", "theirs", "--device", "dev-a", server=nats_server.url)
    assert missing.exit_code == 1
    assert "dev-a has no photo 'theirs'" in missing.stderr


def test_delete_removes_the_photo_and_its_entry(vision: Responder, nats_server: NatsServer) -> None:
    deleted = photos("delete", "smoke", "--device", "dev-a", "--yes", server=nats_server.url)
    assert deleted.exit_code == 0, deleted.output
    assert "deleted" in deleted.stdout
    assert vision.call(vision.photos.names()) == {"dev-a/exit", "dev-b/theirs"}
    assert vision.call(vision.library.get("dev-a", "smoke")) is None
    again = photos("delete", "smoke", "--device", "dev-a", "--yes", server=nats_server.url)
    assert again.exit_code == 1
    assert "has no photo" in again.stderr
    # Without --yes it asks; "n" keeps the photo.
    kept = runner.invoke(app, ["photos", "delete", "exit", "-d", "dev-a", "--server", nats_server.url], input="n\n", env=ENV)
    assert kept.exit_code == 1
    assert vision.call(vision.library.get("dev-a", "exit")) is not None


def test_refused_requests_say_why(vision: Responder, nats_server: NatsServer) -> None:
    backwards = photos("list", "-d", "dev-a", "--since", "1d", "--until", "3d", server=nats_server.url)
    assert backwards.exit_code == 2
    assert "vision refused the request (400)" in backwards.stderr
    assert "is after until" in backwards.stderr
    punctuation = photos("search", "!!!", "-d", "dev-a", server=nats_server.url)
    assert punctuation.exit_code == 2
    assert "no letters or digits" in punctuation.stderr


def test_bad_arguments_are_refused_before_asking(nats_server: NatsServer) -> None:
    bad_time = photos("list", "-d", "dev-a", "--since", "last tuesday", server=nats_server.url)
    assert bad_time.exit_code == 2
    assert "neither an ISO 8601 time nor an age" in bad_time.output
    bad_device = photos("list", "-d", "dev.a", server=nats_server.url)
    assert bad_device.exit_code == 2
    assert "invalid device id" in bad_device.stderr
    too_many = photos("list", "-d", "dev-a", "--limit", "101", server=nats_server.url)
    assert too_many.exit_code == 2


def test_vision_not_answering_and_no_stack_are_clear_errors(nats_server: NatsServer, tmp_path: Path) -> None:
    silent = photos("list", "-d", "dev-a", server=nats_server.url)
    assert silent.exit_code == 1
    assert "the vision service is not answering" in silent.stderr
    assert "Traceback" not in silent.output
    no_stack = photos("list", "-d", "dev-a", server="", state_dir=tmp_path / "nothing-here")
    assert no_stack.exit_code == 1
    assert "start the stack with `sightline up`" in no_stack.stderr
    unreachable = photos("list", "-d", "dev-a", server="nats://127.0.0.1:1")
    assert unreachable.exit_code == 1
    assert "cannot reach NATS" in unreachable.stderr


def test_times_are_iso_or_an_age() -> None:
    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    assert parse_moment("7d", now=now) == now - dt.timedelta(days=7)
    assert parse_moment("90m", now=now) == now - dt.timedelta(minutes=90)
    assert parse_moment("1.5h", now=now) == now - dt.timedelta(hours=1.5)
    assert parse_moment("now", now=now) == now
    assert parse_moment("2026-12-01T08:00:00+08:00") == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    local = parse_moment("2026-12-01")
    assert local.tzinfo is not None
    assert local.replace(tzinfo=None) == dt.datetime(2026, 12, 1)
