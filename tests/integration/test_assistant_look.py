""" "What is this" and open questions on a real nats-server, with the real
assistant, the real vision service (its models shared per session) and real
photos (scikit-image's coffee): the assistant asks the glasses for a photo
(DeviceCommand take_photo, purpose what_is_this), their camera source takes
it, vision reads it, and the answer card names what vision published in
its VisionResult (tags, text, codes); a photo the glasses uploaded just
before answers without a new one. With the real small LLM (SmolLM2-135M on
llama.cpp, behind the fault proxy) the answer is a sentence and the engine
is logged; when the model fails or is slow the card falls back to what
vision saw, and an open question gets a card saying it could not answer,
within the timeout, and the service answers again afterwards. Without a
photo (glasses with no camera) the wearer is told so, not left with
"Looking…"."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import pytest
from nats.js.errors import KeyNotFoundError
from PIL import Image
from sightline.v1.assistant_pb2 import AssistantReply, ReplyKind
from sightline.v1.input_pb2 import IntentKind
from sightline.v1.vision_pb2 import VisionResult
from sightline_assistant.app import create_service as create_assistant
from sightline_assistant.domain import look
from sightline_assistant.domain.phrases import say
from sightline_assistant.engines.llm import CANT_ANSWER, clean_answer
from sightline_glasses.agent import GlassesAgent
from sightline_glasses.camera import Camera
from sightline_glasses.settings import EdgeSettings
from sightline_runtime import subjects
from sightline_vision.app import create_service as create_vision
from sightline_vision.engines import samples
from sightline_vision.settings import VisionSettings
from skimage import data as skdata

from tests.integration.test_assistant_commands import AssistantBus, assistant_settings

pytestmark = pytest.mark.slow

K = ReplyKind
LIMITS = EdgeSettings()
# The real model on a loaded 2-core machine: generous; the slow cases set their own.
LLM_TIMEOUT_S = 30.0
# What the cards may take beyond the configured waits (the bus, the KV, a loaded machine).
MARGIN_S = 2.0
MENU_URL = "https://example.com/menu/42"


# --- the photos: real ones from scikit-image ---
def coffee_jpeg() -> bytes:
    """A cup of espresso on a saucer (scikit-image's coffee, 600x400)."""
    return samples.jpeg_bytes(skdata.coffee())


def menu_jpeg() -> bytes:
    """The same real photo, larger, with a price sign and the menu's QR code on the table."""
    photo = Image.fromarray(skdata.coffee()).resize((1200, 800), Image.Resampling.LANCZOS)
    sign = samples.render_sign("ESPRESSO 3.50", samples.chinese_faces()[0], size=56, paper=(30, 30, 30))
    photo, _ = samples.place(photo, sign.image, (0.04, 0.04))
    photo, _ = samples.place(photo, samples.render_code("QRCode", MENU_URL), (0.84, 0.74))
    return samples.jpeg_bytes(photo)


def camera(tmp_path, data: bytes) -> Camera:
    path = tmp_path / "camera.jpg"
    path.write_bytes(data)
    return Camera(path, max_bytes=LIMITS.photo_max_bytes, max_pixels=LIMITS.photo_max_pixels)


# --- what vision published, and what the card must say about it ---
class VisionTap:
    """Every VisionResult vision publishes, as any subscriber sees it."""

    def __init__(self, nc) -> None:
        self.nc = nc
        self.results: list[tuple[float, VisionResult]] = []

    async def start(self) -> VisionTap:
        async def on(msg) -> None:
            self.results.append((time.time(), VisionResult.FromString(msg.data)))

        await self.nc.subscribe(subjects.domain_all("vision", "result"), cb=on)
        await self.nc.flush()
        return self

    def of(self, photo_id: str) -> tuple[float, VisionResult] | None:
        return next(((at, r) for at, r in self.results if r.photo_id == photo_id), None)


def best_tag(result: VisionResult) -> tuple[str, float]:
    """The result's most likely tag, by its name ("espresso" of "espresso, coffee")."""
    tag = max(result.tags, key=lambda t: t.score)
    return tag.label.split(",")[0].strip(), tag.score


def assert_names_what_vision_saw(card: AssistantReply, result: VisionResult, *, from_tags: bool) -> None:
    """The card is about that photo, and everything on it comes from its VisionResult."""
    assert card.kind == K.REPLY_KIND_ANSWER, card
    assert card.reference_id == result.photo_id
    assert card.title == say("what_is_this", "en")
    if from_tags:
        name, score = best_tag(result)
        assert score >= look.MIN_TAG_SCORE, f"the photo's best tag {name} ({score:.0%}) is too unsure to name"
        assert card.body.startswith(f"{name} ({score:.0%})"), (card.body, [(t.label, t.score) for t in result.tags])
        # The other names on the card are the result's next tags.
        others = card.body.partition("; or ")[2]
        labels = {t.label.split(",")[0].strip() for t in result.tags}
        assert all(other in labels for other in filter(None, others.split(", "))), (card.body, labels)
    read = {r.text.strip() for r in result.text_regions}
    codes = {f"{c.format} {c.text}" for c in result.codes}
    for item in card.items:
        if item.startswith("“"):
            assert set(item.strip("“”").split(" / ")) <= read, (item, read)
        else:
            assert item in codes, (item, codes)
    # Nothing vision read is left off (the photos here have less than the card's limits).
    shown = {t for item in card.items if item.startswith("“") for t in item.strip("“”").split(" / ")}
    assert shown == {t for t in read if t}, (list(card.items), read)
    assert {i for i in card.items if not i.startswith("“")} == codes


async def remembered(bus: AssistantBus, device: str, photo_id: str, timeout_s: float = 10.0) -> None:
    """Until the assistant kept the photo as the device's last (its shared state, bucket assistant_state)."""
    kv = await bus.js.key_value("assistant_state")
    async with asyncio.timeout(timeout_s):
        while True:
            with contextlib.suppress(KeyNotFoundError):
                entry = await kv.get(f"photo.{device}")
                if entry.value and json.loads(entry.value)["photo"]["photo_id"] == photo_id:
                    return
            await asyncio.sleep(0.05)


# --- the services ---
@pytest.fixture
async def vision(nats_server, run_service, http_port, vision_engines, tmp_path, owner_streams):
    settings = VisionSettings(
        nats_url=nats_server.url,
        http_port=http_port,
        http_host="127.0.0.1",
        log_level="WARNING",
        library_db_url=f"sqlite+aiosqlite:///{tmp_path / 'photos.db'}",
    )
    return await run_service(create_vision(settings, engines=vision_engines), timeout_s=60)


@pytest.fixture
async def bus(nc, owner_streams) -> AssistantBus:
    return await AssistantBus(nc).start()


@pytest.fixture
async def seen(nc) -> VisionTap:
    return await VisionTap(nc).start()


@pytest.fixture
def start_assistant(nats_server, run_service, tmp_path, assistant_understander, owner_streams):
    async def start(**options):
        settings = assistant_settings(nats_server.url, tmp_path / "assistant", **options)
        return await run_service(create_assistant(settings, understander=assistant_understander))

    return start


async def ask_what_this_is(bus: AssistantBus, glasses: GlassesAgent, seen: VisionTap, device: str, *, timeout_s: float = 60.0):
    """'Hey Sightline, what is this' with the glasses on: the assistant asks them for a photo,
    their camera takes it, vision reads it; (the final, the photo's VisionResult and when it was
    published, the answer card and when it came)."""
    taken: list[tuple[str, str, str]] = []
    glasses.command_listeners.append(lambda command, outcome, detail: taken.append((command.take_photo.purpose, outcome, detail)))
    final = await bus.say(device, "Hey Sightline, what is this")
    looking = await bus.reply(final)
    assert bus.command_of(final).intent == IntentKind.INTENT_KIND_WHAT_IS_THIS
    assert (looking.kind, looking.title) == (K.REPLY_KIND_ACKNOWLEDGED, say("what_is_this_wait", "en")), bus.cards_text()
    [(purpose, outcome, photo_id)] = await bus.until(lambda: taken, 15, "the glasses acting on take_photo")
    assert (purpose, outcome) == ("what_is_this", "done"), taken
    published_at, result = await bus.until(lambda: seen.of(photo_id), timeout_s, f"vision's result for {photo_id}")
    card = await bus.until(
        lambda: next((r for _, r in bus.replies if r.kind == K.REPLY_KIND_ANSWER and r.reference_id == photo_id), None),
        timeout_s,
        f"the answer card for {photo_id}",
    )
    answered_at = next(at for at, r in bus.replies if r is card)
    return final, result, published_at, card, answered_at


# --- 1. the answer from what vision saw ---
async def test_what_is_this_takes_a_photo_and_the_card_names_what_vision_saw(
    vision, start_assistant, bus, seen, registry, nats_server, tmp_path
):
    """The whole way: command → take_photo → the glasses' camera → vision → the card,
    whose body is vision's best tag (no LLM configured: the tags themselves)."""
    await registry.add("look-1")
    await start_assistant()
    async with GlassesAgent.connect("look-1", nats_server.url, camera=camera(tmp_path, coffee_jpeg())) as glasses:
        _, result, _, card, _ = await ask_what_this_is(bus, glasses, seen, "look-1")
    assert result.tags, "vision tagged the photo"
    assert result.tagger_engine
    assert_names_what_vision_saw(card, result, from_tags=True)
    print(f"coffee: tags {[(t.label, round(t.score, 3)) for t in result.tags]}; card {card.body!r} {list(card.items)}")


async def test_a_photo_the_glasses_just_uploaded_answers_with_its_text_and_codes(vision, start_assistant, bus, seen, registry, nats_server):
    """A photo sent a moment ago is the one asked about: no new photo is taken, and the
    card lists the text and the code vision read in it beside its best tag."""
    await registry.add("look-2")
    await start_assistant()
    async with GlassesAgent.connect("look-2", nats_server.url) as glasses:
        photo_id = await glasses.send_photo(menu_jpeg())
        _, result = await bus.until(lambda: seen.of(photo_id), 60, "vision's result for the uploaded photo")
        await remembered(bus, "look-2", photo_id)
        final = await bus.say("look-2", "Hey Sightline, what is this")
        card = await bus.reply(final, timeout_s=30)
    assert not [c for c in bus.device_commands if c.meta.device_id == "look-2"], "no new photo was asked for"
    assert {(c.format, c.text) for c in result.codes} >= {("QRCode", MENU_URL)}
    assert any("ESPRESSO" in r.text.upper() for r in result.text_regions), [r.text for r in result.text_regions]
    assert_names_what_vision_saw(card, result, from_tags=True)
    assert f"QRCode {MENU_URL}" in card.items
    assert card.meta.causation_id == bus.command_of(final).meta.event_id
    print(f"menu: text {[r.text for r in result.text_regions]}; card {card.body!r} {list(card.items)}")


# --- 2. with the LLM: a sentence, or the tags when it fails ---
async def test_with_the_real_llm_what_is_this_is_a_sentence_from_what_vision_saw(
    vision, start_assistant, bus, seen, registry, nats_server, tmp_path, llm_proxy, llm_server, caplog
):
    await registry.add("look-3")
    await start_assistant(llm_base_url=llm_proxy.url, llm_model=llm_server.model, llm_timeout_s=LLM_TIMEOUT_S, llm_max_tokens=64)
    with caplog.at_level(logging.INFO, logger="sightline_assistant"):
        async with GlassesAgent.connect("look-3", nats_server.url, camera=camera(tmp_path, coffee_jpeg())) as glasses:
            _, result, published_at, card, answered_at = await ask_what_this_is(bus, glasses, seen, "look-3")
    [exchange] = llm_proxy.chat_exchanges
    # The model was told what vision saw (never the image) and asked the wearer's question.
    system = exchange.request["messages"][0]["content"]
    name, _ = best_tag(result)
    assert name in system, system
    assert exchange.user_text == "what is this"
    # The card is the model's own answer, cleaned to a spoken length; what vision read stays listed.
    assert card.body, "the model said something"
    assert card.body == clean_answer(exchange.model_content), (card.body, exchange.model_content)
    assert card.reference_id == result.photo_id
    assert card.title == say("what_is_this", "en")
    [answered] = [r for r in caplog.records if r.getMessage() == "'what is this' answered"]
    assert (answered.engine, answered.fallback_reason) == (llm_server.model, ""), "the engine that answered is recorded"
    assert not [r for r in caplog.records if r.getMessage() == "LLM answer failed"]
    print(f"what is this (SmolLM2): {card.body!r} in {answered_at - published_at:.2f} s after the VisionResult")


# mode, the assistant's LLM timeout, what the logged reason starts with
FAILURES = [("status_500", LLM_TIMEOUT_S, "http"), ("delay", 1.0, "timeout")]


@pytest.mark.parametrize(("mode", "timeout_s", "reason"), FAILURES)
async def test_when_the_llm_fails_what_is_this_falls_back_to_what_vision_saw(
    vision, start_assistant, bus, seen, registry, nats_server, tmp_path, llm_proxy, llm_server, caplog, mode, timeout_s, reason
):
    await registry.add("look-4")
    llm_proxy.mode, llm_proxy.delay_s = mode, 10.0
    await start_assistant(llm_base_url=llm_proxy.url, llm_model=llm_server.model, llm_timeout_s=timeout_s)
    with caplog.at_level(logging.INFO, logger="sightline_assistant"):
        async with GlassesAgent.connect("look-4", nats_server.url, camera=camera(tmp_path, coffee_jpeg())) as glasses:
            _, result, published_at, card, answered_at = await ask_what_this_is(bus, glasses, seen, "look-4")
    assert len(llm_proxy.chat_exchanges) == 1, "the model was asked"
    assert_names_what_vision_saw(card, result, from_tags=True)
    [failed] = [r for r in caplog.records if r.getMessage() == "LLM answer failed"]
    assert failed.reason == reason, failed.reason
    [answered] = [r for r in caplog.records if r.getMessage() == "'what is this' answered"]
    assert answered.engine == "none"
    assert answered.fallback_reason.startswith(reason), answered.fallback_reason
    if mode == "delay":
        assert answered_at - published_at < timeout_s + MARGIN_S, "a slow model costs at most its timeout"


# --- 3. open questions ---
async def test_an_open_question_gets_the_real_models_answer_or_says_it_could_not_in_time(
    start_assistant, bus, registry, llm_proxy, llm_server, caplog
):
    """ASK with the real model: an ANSWER card with its text. With the model too slow: a card
    saying it could not answer, within the timeout; then it answers again."""
    await registry.add("ask-1")
    # Long enough for the real model on a loaded machine, short enough to wait for twice.
    timeout_s = 8.0
    assistant = await start_assistant(llm_base_url=llm_proxy.url, llm_model=llm_server.model, llm_timeout_s=timeout_s, llm_max_tokens=64)
    question = "what is the capital of France"

    asked = time.perf_counter()
    answered = await bus.reply(await bus.say("ask-1", f"Hey Sightline, {question}"), timeout_s=timeout_s + MARGIN_S)
    answer_s = time.perf_counter() - asked
    [exchange] = llm_proxy.chat_exchanges
    assert exchange.user_text == question
    assert (answered.kind, answered.title) == (K.REPLY_KIND_ANSWER, say("answer", "en")), bus.cards_text()
    assert answered.body, "the model said something"
    assert answered.body == clean_answer(exchange.model_content), (answered.body, exchange.model_content)

    llm_proxy.mode, llm_proxy.delay_s = "delay", 3 * timeout_s
    with caplog.at_level(logging.WARNING, logger="sightline_assistant"):
        started = time.perf_counter()
        final = await bus.say("ask-1", f"Hey Sightline, {question}")
        card = await bus.reply(final, timeout_s=timeout_s + MARGIN_S)
        elapsed = time.perf_counter() - started
    assert bus.command_of(final).intent == IntentKind.INTENT_KIND_ASK
    assert (card.kind, card.title, card.body) == (K.REPLY_KIND_ERROR, CANT_ANSWER["en"], question), bus.cards_text()
    assert timeout_s - 0.5 < elapsed < timeout_s + MARGIN_S, f"the card came {elapsed:.2f} s after the question"
    [failed] = [r for r in caplog.records if r.getMessage() == "LLM answer failed"]
    assert failed.reason == "timeout"

    llm_proxy.mode = "pass"
    again = await bus.reply(await bus.say("ask-1", "Hey Sightline, what is a good name for a cat"), timeout_s=timeout_s + MARGIN_S)
    assert (again.kind, again.title) == (K.REPLY_KIND_ANSWER, say("answer", "en")), bus.cards_text()
    assert again.body == clean_answer(llm_proxy.chat_exchanges[-1].model_content)
    outcomes = {
        outcome: assistant.metrics.registry.get_sample_value("sightline_assistant_llm_answers_total", {"outcome": outcome})
        for outcome in ("ok", "failed")
    }
    assert outcomes == {"ok": 2, "failed": 1}
    print(f"ask (SmolLM2): {answered.body!r} in {answer_s:.2f} s; timeout card after {elapsed:.2f} s (timeout {timeout_s} s)")


# --- 4. no photo ---
async def test_what_is_this_without_a_photo_says_so(vision, start_assistant, bus, seen, registry, nats_server):
    """Glasses without a camera cannot take the photo: once the assistant's wait is over the
    card says no photo came (not silence after "Looking…"); a photo coming later answers no
    stale question, and the next "what is this" is answered from it."""
    await registry.add("look-5")
    wait_s = 2.0
    await start_assistant(what_is_this_wait_s=wait_s)
    outcomes: list[str] = []
    async with GlassesAgent.connect("look-5", nats_server.url) as glasses:
        glasses.command_listeners.append(lambda command, outcome, detail: outcomes.append(outcome))
        started = time.perf_counter()
        final = await bus.say("look-5", "Hey Sightline, what is this")
        looking = await bus.reply(final)
        assert looking.title == say("what_is_this_wait", "en")
        await bus.until(lambda: outcomes, 10, "the glasses acting on take_photo")
        assert outcomes == ["no_camera"]
        told = await bus.until(lambda: bus.of("look-5", K.REPLY_KIND_ERROR), wait_s + MARGIN_S + 5, "a card saying no photo came")
        elapsed = time.perf_counter() - started
        [card] = told
        assert card.meta.causation_id == bus.command_of(final).meta.event_id
        assert (card.title, card.body) == look.no_photo("en", wait_s)
        assert card.body == "The glasses sent no photo within 2 s"
        assert wait_s <= elapsed < wait_s + MARGIN_S, f"told after {elapsed:.2f} s"

        # A photo after the wait answers nothing by itself…
        photo_id = await glasses.send_photo(coffee_jpeg())
        _, result = await bus.until(lambda: seen.of(photo_id), 60, "vision's result for the late photo")
        await remembered(bus, "look-5", photo_id)
        await bus.quiet(1.0)
        assert not bus.of("look-5", K.REPLY_KIND_ANSWER), bus.cards_text()
        # …and is the one the next question is about.
        again = await bus.reply(await bus.say("look-5", "Hey Sightline, what is this"), timeout_s=15)
    assert_names_what_vision_saw(again, result, from_tags=True)
    await asyncio.sleep(wait_s + 0.5)
    assert len(bus.of("look-5", K.REPLY_KIND_ERROR)) == 1, "no second 'no photo' card"
