"""`sightline transcript` and `sightline calendar import` against a real
nats-server, answered by the assistant's own request functions over a real
SQLite store and device registry (a tiny responder standing in for the
service's Serve wiring)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
import typer
from assistant_store_helpers import T0, final, translation
from sightline_assistant.rpc import AssistantRequests
from sightline_assistant.store import AssistantStore
from sightline_cli.commands import calendar, transcript
from sightline_runtime.devices import DeviceRegistry
from typer.testing import CliRunner

DATA = Path(__file__).parent / "data"
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
LONG = "So the plan for tomorrow is that we meet at the north exit of the station at half past eight " * 3

# The commands as sightline_cli.main registers them.
cli = typer.Typer()
cli.command("transcript")(transcript.transcript)
cli.add_typer(calendar.app, name="calendar")
runner = CliRunner()


class Responder:
    """Answers assistant.rpc.* with AssistantRequests, on a loop of its own
    (the CLI runs asyncio.run in the test's thread)."""

    def __init__(self, nats_url: str, db: Path) -> None:
        self.nats_url = nats_url
        self.db = db
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.store = await AssistantStore.open(f"sqlite:///{self.db}")
        self.nc = await nats.connect(self.nats_url)
        registry = await DeviceRegistry(self.nc.jetstream()).open()
        await registry.add("dev-a")
        await registry.update("dev-a", lambda record: setattr(record, "time_zone", "Asia/Shanghai") or True)
        self.requests = AssistantRequests(self.store, registry, clock=lambda: T0)
        await self.nc.subscribe("assistant.rpc.*", cb=self._answer)

    async def _answer(self, msg) -> None:
        method = msg.subject.rsplit(".", 1)[1]
        response, headers = await getattr(self.requests, method)(msg.data)
        await self.nc.publish(msg.reply, response.SerializeToString(), headers=headers or None)

    async def _stop(self) -> None:
        await self.nc.drain()
        await self.store.close()

    def __enter__(self) -> Responder:
        self.thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def assistant(nats_url: str, tmp_path: Path) -> Iterator[Responder]:
    with Responder(nats_url, tmp_path / "assistant.db") as responder:
        yield responder


def run(nats_url: str, *args: str):
    return runner.invoke(cli, [*args, "--server", nats_url], env=ENV)


def test_the_transcript_comes_whole_in_every_format(assistant: Responder, nats_url: str) -> None:
    async def seed() -> None:
        for n in range(230):  # more than one page of 200
            spoken = final(f"u{n:03d}", f"{n}: {LONG}" if n == 229 else f"line {n}", seconds=n * 5, length_s=15 if n == 229 else 2)
            await assistant.store.add_final("dev-a", spoken)
            await assistant.store.add_translation("dev-a", translation(spoken, f"第{n}句"))

    assistant.call(seed())
    as_json = run(nats_url, "transcript", "--device", "dev-a", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    lines = json.loads(as_json.stdout)
    assert [line["utterance_id"] for line in lines] == [f"u{n:03d}" for n in range(230)]
    assert lines[-1]["text"] == f"229: {LONG}"
    assert lines[-1]["translation"] == "第229句"
    as_md = run(nats_url, "transcript", "--device", "dev-a", "--format", "md")
    assert as_md.exit_code == 0, as_md.output
    assert f"229: {LONG.strip()}" in as_md.stdout
    since = (T0 + dt.timedelta(seconds=228 * 5)).isoformat()
    as_srt = run(nats_url, "transcript", "--device", "dev-a", "--format", "srt", "--since", since)
    assert as_srt.exit_code == 0, as_srt.output
    # Timed from the earliest start shown: the 15 s utterance began 10 s before line 228.
    assert as_srt.stdout == (
        f"1\n00:00:08,000 --> 00:00:10,000\nline 228\n第228句\n\n2\n00:00:00,000 --> 00:00:15,000\n229: {LONG.strip()}\n第229句\n"
    )


def test_a_calendar_file_is_imported_with_its_warnings(assistant: Responder, nats_url: str) -> None:
    result = run(nats_url, "calendar", "import", "--device", "dev-a", str(DATA / "google_work.ics"))
    assert result.exit_code == 0, result.output
    assert "9 events loaded into dev-a's schedule, 1 skipped" in result.stdout
    assert "warning: event 'Offsite' (2c4e6g8i0k2m4o6q8s0u2w4y6a@google.com): cancelled, not loaded" in result.stdout
    events = assistant.call(assistant.store.events_between("dev-a", T0, T0 + dt.timedelta(days=60)))
    assert len(events) == 9


def test_a_malformed_file_is_refused_and_the_schedule_kept(assistant: Responder, nats_url: str) -> None:
    assert run(nats_url, "calendar", "import", "--device", "dev-a", str(DATA / "allday_floating.ics")).exit_code == 0
    result = run(nats_url, "calendar", "import", "--device", "dev-a", "--replace", str(DATA / "malformed.ics"))
    assert result.exit_code == 2
    assert "the assistant refused the request (400): line 7: not an iCalendar content line" in " ".join(result.output.split())
    assert len(assistant.call(assistant.store.events_between("dev-a", T0, T0 + dt.timedelta(days=60)))) == 4
    missing = run(nats_url, "calendar", "import", "--device", "dev-a", str(DATA / "nowhere.ics"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.output


def test_without_an_assistant_the_commands_say_so(nats_url: str) -> None:
    result = run(nats_url, "transcript", "--device", "dev-a")
    assert result.exit_code == 1
    assert "the assistant is not answering" in " ".join(result.output.split())
    bad = run(nats_url, "transcript", "--device", "dev a")
    assert bad.exit_code == 2
    assert "invalid device id" in bad.output
