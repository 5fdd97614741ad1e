"""The demo's assistant steps on a real local stack: the shipped script's
action-button press, the commands it speaks with the wake phrase ("Okay
Sightline, remind me in 20 seconds to stretch.", "Okay Sightline, what is on
my schedule?", through espeak-ng and the real asr) and its pushed
notification, played by `play_demo` as `sightline up --demo` plays them, with
the stack's notification ingress (stack.json's notify_url and
notify_key_file). Each must come back as the assistant's real card on the
demo glasses: the day's briefing (the first press of the day), "Reminder
set", "Today" with the imported calendar, the notification, and the reminder
itself 20 s after it was set, on the HUD page. The stack runs only what these
steps need (overlay, asr, assistant) to keep it short."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import subprocess
import time
from pathlib import Path

import httpx
import nats
import pytest
from sightline.v1.display_pb2 import Card, CardKind, DisplayUpdate, HudRegion
from sightline_cli.security import LocalSecurity, provision_device
from sightline_glasses.demo.runner import DEMO_DEVICE, play_demo
from sightline_glasses.demo.script import load_script, parse_script
from sightline_glasses.demo.steps import NotifyIngress

from tests.conftest import VENV_BIN
from tests.e2e.test_cli_stack import _all_ready, _wait_for
from tests.e2e.test_glasses_readiness import _stop, _up

SIGHTLINE = str(VENV_BIN / "sightline")
# The assistant's wake phrases (SIGHTLINE_WAKE_PHRASES' English defaults).
WAKE = re.compile(r"^(hey|hi|ok|okay) sightline\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo-assistant")
    up, state = _up(home, "overlay", "asr", "assistant")
    try:
        info = _wait_for(lambda: _all_ready(state), 180, "overlay, asr and the assistant ready")
    except AssertionError:
        _stop(up)
        raise AssertionError((home / "up.log").read_text()[-3000:]) from None
    yield state, info
    _stop(up)


def _calendar(now: dt.datetime) -> str:
    """One event under way now, so it is on today's schedule whatever the hour (UTC, the demo device's zone)."""
    stamp = "%Y%m%dT%H%M%SZ"
    starts, ends = now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=55)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//sightline tests//demo//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:demo-review@sightline\r\nDTSTAMP:{now:{stamp}}\r\n"
        f"DTSTART:{starts:{stamp}}\r\nDTEND:{ends:{stamp}}\r\nSUMMARY:Design review\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )


def _assistant_script():
    """The shipped script's steps that reach the assistant (the button, the commands spoken with
    the wake phrase, the notification), as they are, pauses included; then the glasses stay on
    until the test has seen the reminder."""
    shipped = load_script()
    kept = [s for s in shipped.steps if s.kind in ("press", "notify") or (s.kind == "say" and WAKE.match(s.spec["text"]))]
    assert [step.kind for step in kept] == ["press", "say", "say", "notify"], kept
    steps = [step.spec for step in kept]
    return parse_script({"loop": False, "steps": [*steps, {"do": "wait", "seconds": 60}]}, shipped.base_dir)


def _sightline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SIGHTLINE, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
async def test_the_demo_assistant_steps_bring_the_real_cards(stack, tmp_path, caplog):
    state, info = stack
    caplog.set_level(logging.INFO, logger="sightline_glasses.demo")
    security = LocalSecurity(state)
    admin = await nats.connect(info["nats_url"], user_credentials=str(security.creds.admin()))
    cards: list[tuple[float, Card]] = []

    async def on_display(msg):
        update = DisplayUpdate()
        update.ParseFromString(msg.data)
        if update.region == HudRegion.HUD_REGION_CARD:
            cards.append((time.monotonic(), update.card))

    demo = None
    try:
        # As `sightline up --demo` does: the demo device provisioned, with its credentials and the director's.
        _, device_creds, _ = await provision_device(admin, security, DEMO_DEVICE, display_name="Demo glasses")
        ics = tmp_path / "today.ics"
        ics.write_text(_calendar(dt.datetime.now(dt.UTC)))
        imported = await asyncio.to_thread(_sightline, "calendar", "import", str(ics), "--device", DEMO_DEVICE, "--state-dir", str(state))
        assert imported.returncode == 0, imported.stderr
        await admin.subscribe(f"glasses.{DEMO_DEVICE}.down.display", cb=on_display)
        urls: list[str] = []
        started = time.monotonic()
        demo = asyncio.create_task(
            play_demo(
                info["nats_url"],
                script=_assistant_script(),
                on_hud=urls.append,
                device_credentials=str(device_creds),
                director_credentials=str(security.director_creds(DEMO_DEVICE)),
                notify=NotifyIngress(info["notify_url"], Path(info["notify_key_file"])),
            )
        )
        _, briefing = await _card(cards, lambda c: c.kind == CardKind.CARD_KIND_BRIEFING, 20)
        set_at, reminder_set = await _card(cards, lambda c: c.title.lines[:1] and c.title.lines[0].startswith("Reminder set"), 20)
        _, today = await _card(cards, lambda c: list(c.title.lines) == ["Today"], 20)
        _, parcel = await _card(cards, lambda c: c.kind == CardKind.CARD_KIND_NOTIFICATION, 20)
        fired_at, fired = await _card(cards, lambda c: c.kind == CardKind.CARD_KIND_REMINDER, 30)
        # The demo glasses' HUD page draws it, as the wearer sees it.
        async with httpx.AsyncClient() as client:
            shown = (await client.get(urls[0] + "state")).json()["updates"]
        elapsed = time.monotonic() - started
    finally:
        if demo is not None:
            demo.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await demo
        await admin.drain()

    # The first press of the wearer's day: the briefing, with what is on today (and no command
    # mode, so the commands below were obeyed for their spoken wake phrase).
    assert "Design review" in _items(briefing), briefing
    assert reminder_set.kind == CardKind.CARD_KIND_INFO
    assert "stretch" in " ".join(reminder_set.body.lines)
    assert today.kind == CardKind.CARD_KIND_INFO
    assert "Design review" in _items(today), today
    assert list(parcel.title.lines) == ["Parcel delivered"]
    assert "front door" in " ".join(parcel.body.lines)
    assert "stretch" in " ".join([*fired.title.lines, *fired.body.lines])
    # Set at once, fired 20 s later (the hub's timer, within a second of its time).
    assert 19 <= fired_at - set_at <= 23, fired_at - set_at
    hud_cards = [u["update"]["card"] for u in shown if u["update"]["region"] == "HUD_REGION_CARD"]
    assert [c["kind"] for c in hud_cards] == ["CARD_KIND_REMINDER"], shown
    assert not [r.message for r in caplog.records if "skipped" in r.message or "failed" in r.message]
    assert "demo notification shown" in caplog.text
    print(f"reminder fired {fired_at - set_at:.1f}s after its card; {elapsed:.1f}s in all")


def _items(card: Card) -> str:
    return " / ".join(" ".join(item.lines) for item in card.items)


async def _card(cards: list[tuple[float, Card]], accept, timeout_s: float) -> tuple[float, Card]:
    deadline = time.monotonic() + timeout_s
    while not (found := [(at, card) for at, card in cards if accept(card)]):
        if time.monotonic() > deadline:
            seen = [(CardKind.Name(c.kind), list(c.title.lines), list(c.body.lines), _items(c)) for _, c in cards]
            raise AssertionError(f"no such card in {timeout_s:g}s; the cards seen: {seen}")
        await asyncio.sleep(0.05)
    return found[0]
