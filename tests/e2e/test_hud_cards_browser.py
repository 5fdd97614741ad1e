"""The assistant's cards on the HUD page in a real browser (Debian's headless
Chromium driven by Selenium), laid out by the real overlay service.

A real nats-server with the assistant's stream ASSISTANT, the overlay
service in-process, a real GlassesAgent with its HudServer. AssistantReply
events are published onto ASSISTANT as the assistant does: a briefing (a
title, a body, more items than fit, a CJK item) and a "Did you mean …?"
suggestion with Yes / No. The page must show each card's kind, title,
body, items one per row with "+k more", and its actions as buttons, all
inside the card; clicking "Yes" must put a Confirmation DeviceInput
(reference_id = the action id, approved) on glasses.<device>.up.input.
Saves hud-assistant-card.png (docs/images/ with `make screenshots`).
"""

from __future__ import annotations

import asyncio

import httpx
import nats
import pytest
from sightline.v1.assistant_pb2 import AssistantReply, ReplyAction, ReplyKind
from sightline.v1.display_pb2 import HudRegion
from sightline.v1.input_pb2 import DeviceInput
from sightline_overlay.app import create_service
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import subjects
from sightline_runtime.devices import DeviceRegistry
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.processes import free_port
from sightline_runtime.streams import DAY, StreamSpec, ensure_streams
from sightline_runtime.surface import deployment_streams

# The HUD page's browser and agent fixtures and helpers, shared with the page's own test.
from tests.e2e.test_hud_browser import DEVICE, SCREENSHOTS, browser, glasses, in_browser, wait_js  # noqa: F401

# The assistant's stream, as its bus.py declares it.
ASSISTANT = StreamSpec(
    name="ASSISTANT",
    subjects=("assistant.command.*", "assistant.reply.*", "assistant.notification.*", "assistant.notes.*"),
    description="the assistant's commands, replies, notifications and meeting notes",
    max_age_s=30 * DAY,
)

# The card as drawn: its kind, text by part, buttons, and whether anything runs past the card.
CARD = """
const card = document.querySelector(".region[data-region='card']");
if (!card) return null;
const text = (selector) => [...card.querySelectorAll(selector)].map((node) => node.textContent);
const inside = (node) => {
  const c = card.getBoundingClientRect(), r = node.getBoundingClientRect();
  return r.left >= c.left - 0.5 && r.right <= c.right + 0.5 && r.top >= c.top - 0.5 && r.bottom <= c.bottom + 0.5;
};
return {
  kind: card.dataset.cardKind,
  label: card.querySelector('.card-kind').textContent,
  version: card.dataset.version,
  title: text('.card-title .line'),
  body: text('.card-body .line'),
  items: text('.card-item'),
  more: text('.card-item.more'),
  buttons: [...card.querySelectorAll('button.action')].map((b) => ({id: b.dataset.action, label: b.textContent})),
  overflows: card.scrollHeight > card.clientHeight + 1,
  linesFit: [...card.querySelectorAll('.line')].every((line) => line.scrollWidth <= line.clientWidth + 1 && inside(line)),
  buttonsInside: [...card.querySelectorAll('.action')].every(inside),
};
"""


def reply(kind, title: str, body: str = "", *, items=(), actions=(), language="en") -> AssistantReply:
    event = AssistantReply(
        meta=new_meta(DEVICE, "assistant"), kind=kind, title=title, body=body, items=list(items), language=language, ttl_ms=120_000
    )
    event.actions.extend(ReplyAction(action_id=action_id, label=label) for action_id, label in actions)
    return event


@pytest.fixture
async def cards_stack(glasses, nats_server, run_service):  # noqa: F811
    """The page's agent and HUD server, the real overlay behind them, the assistant's stream."""
    agent, hud, _ = glasses
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js, [*deployment_streams([]), ASSISTANT])
    await (await DeviceRegistry(js).open()).add(DEVICE)
    settings = OverlaySettings(nats_url=nats_server.url, http_port=free_port(), http_host="127.0.0.1")
    await run_service(create_service(settings))
    # The durable starts at new replies: publish only once it exists (it is created as the overlay starts).
    async with asyncio.timeout(15):
        while "overlay-assistant-replies" not in {info.name for info in await js.consumers_info("ASSISTANT")}:
            await asyncio.sleep(0.05)

    async def publish(event: AssistantReply) -> None:
        subject = subjects.domain("assistant", "reply", DEVICE)
        await js.publish(subject, event.SerializeToString(), headers=event_headers(event), stream="ASSISTANT")

    yield agent, hud, nc, publish
    await nc.drain()


async def _card_held(agent, card_id: str):
    async with asyncio.timeout(10):
        while (update := agent.hud.regions.get(HudRegion.HUD_REGION_CARD)) is None or update.card.card_id != card_id:
            await asyncio.sleep(0.02)
    return update


async def test_assistant_cards_are_drawn_and_yes_sends_the_confirmation(cards_stack, browser):  # noqa: F811
    agent, hud, nc, publish = cards_stack
    inputs: list[DeviceInput] = []

    async def on_input(msg) -> None:
        inputs.append(DeviceInput.FromString(msg.data))

    await nc.subscribe(subjects.up_input(DEVICE), cb=on_input)

    # A briefing: more items than the card has rows for, one in Chinese.
    briefing = reply(
        ReplyKind.REPLY_KIND_BRIEFING,
        "Good morning, Ana",
        "3 events and 1 reminder today",
        items=[
            "09:00 Stand-up with the platform team",
            "11:30 明天上午和张经理讨论季度预算",
            "14:00 Dentist, 12 Harbour Street",
            "16:00 Call the landlord",
            "18:30 Dinner with Sam",
            "Reminder: pick up the parcel",
            "Unread: 2 messages from Leo",
        ],
        actions=[("brief-1:ok", "Got it")],
    )
    await publish(briefing)
    held = await _card_held(agent, briefing.meta.event_id)
    await in_browser(browser.get, hud.url)
    drawn = await in_browser(wait_js, browser, f"(() => {{ {CARD} }})()?.kind === 'briefing' && (() => {{ {CARD} }})()", "the briefing")
    assert drawn["label"] == "Briefing"
    assert drawn["title"] == ["Good morning, Ana"]
    assert drawn["body"] == ["3 events and 1 reminder today"]
    # 8 rows of 32 px: the head, the title, the body, the buttons; 4 left for the items, the last "+4 more".
    assert drawn["items"] == [item.lines[0] for item in held.card.items], "one row per item, as the overlay cut them"
    assert drawn["items"][:3] == ["09:00 Stand-up with the…", "11:30 明天上午和张经理讨论季…", "14:00 Dentist, 12 Harbour…"]
    assert drawn["more"] == ["+4 more"]
    assert drawn["buttons"] == [{"id": "brief-1:ok", "label": "Got it"}]
    assert not drawn["overflows"], "the card's content fits its box"
    assert drawn["linesFit"], "every line within the card"
    assert drawn["buttonsInside"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await in_browser(browser.find_element("id", "hud").screenshot, str(SCREENSHOTS / "hud-assistant-card.png"))
    assert (SCREENSHOTS / "hud-assistant-card.png").stat().st_size < 200_000, "the screenshot must stay small"

    # "Did you mean …?" replaces it (latest wins); Yes is a button.
    suggestion = reply(
        ReplyKind.REPLY_KIND_SUGGESTION,
        "Did you mean: remind me to call Mum at 6 pm?",
        "I heard “remind me to cool mum at six”.",
        actions=[("sug-7:yes", "Yes"), ("sug-7:no", "No")],
    )
    await publish(suggestion)
    await _card_held(agent, suggestion.meta.event_id)
    drawn = await in_browser(wait_js, browser, f"(() => {{ {CARD} }})()?.kind === 'suggestion' && (() => {{ {CARD} }})()", "the suggestion")
    assert int(drawn["version"]) > 0
    assert drawn["label"] == "Did you mean"
    assert drawn["title"] == ["Did you mean: remind me to", "call Mum at 6 pm?"]
    assert drawn["body"] == ["I heard “remind me to cool mum", "at six”."]
    assert drawn["items"] == []
    assert drawn["buttons"] == [{"id": "sug-7:yes", "label": "Yes"}, {"id": "sug-7:no", "label": "No"}]
    assert not drawn["overflows"]
    assert drawn["linesFit"]
    assert browser.execute_script("return document.querySelectorAll(\".region[data-region='card']\").length") == 1

    await in_browser(browser.find_element("css selector", "button.action[data-action='sug-7:yes']").click)
    sent = await in_browser(
        wait_js, browser, "document.querySelector(\"button.action[data-action='sug-7:yes']\").dataset.sent", "the confirmation sent"
    )
    async with asyncio.timeout(10):
        while not inputs:
            await asyncio.sleep(0.02)
    [confirmation] = inputs
    assert confirmation.WhichOneof("input") == "confirmation"
    assert confirmation.confirmation.reference_id == "sug-7:yes"
    assert confirmation.confirmation.approved is True
    assert confirmation.meta.event_id == sent
    assert confirmation.meta.device_id == DEVICE
    chosen = browser.execute_script(
        "return [...document.querySelectorAll('button.action')].map(b => [b.dataset.action, b.disabled, b.classList.contains('chosen')])"
    )
    assert chosen == [["sug-7:yes", True, True], ["sug-7:no", True, False]], "one choice per card"


async def test_the_page_cannot_confirm_what_no_card_shows(cards_stack):
    """The server takes only an action of the card the HUD holds now, as JSON from its own origin."""
    agent, hud, _, publish = cards_stack
    suggestion = reply(ReplyKind.REPLY_KIND_SUGGESTION, "Did you mean: stop navigation?", actions=[("sug-9:yes", "Yes")])
    await publish(suggestion)
    await _card_held(agent, suggestion.meta.event_id)
    async with httpx.AsyncClient(base_url=hud.url) as client:
        forged = await client.post("actions", json={"actionId": "pi-7f3a"})
        cross_site = await client.post("actions", json={"actionId": "sug-9:yes"}, headers={"origin": "https://evil.example"})
        form = await client.post("actions", content="actionId=sug-9:yes", headers={"content-type": "application/x-www-form-urlencoded"})
        garbage = await client.post("actions", content=b"{not json", headers={"content-type": "application/json"})
        ok = await client.post("actions", json={"actionId": "sug-9:yes"})
    assert (forged.status_code, forged.json()["error"]) == (409, "no card shown now has that action")
    assert cross_site.status_code == 403
    assert form.status_code == 415
    assert garbage.status_code == 400
    assert ok.status_code == 202
    assert ok.json()["referenceId"] == "sug-9:yes"
