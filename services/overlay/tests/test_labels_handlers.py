"""Photo labels through the overlay's handlers. With faststream's in-memory
TestNatsBroker: a VisionResult shows its labels at once, its Translation
swaps in the translations, a deadline says "late", a newer photo wins, and
bad input gets a clear outcome. Last, the same path against a real
nats-server: the overlay service runs as in production (Service.serve),
started before vision and translation created their streams; once those
exist its durables attach, and what vision and translation publish becomes
labels on the right pair of glasses."""

from __future__ import annotations

import asyncio
import datetime as dt

import nats
import pytest
from faststream.nats import TestNatsBroker
from sightline.v1.common_pb2 import Box
from sightline.v1.display_pb2 import DisplayUpdate, HudRegion
from sightline.v1.translation_pb2 import TextOrigin, TranslatedRegion, Translation, TranslationStatus
from sightline.v1.vision_pb2 import TextRegion, VisionResult
from sightline_glasses.agent import GlassesAgent
from sightline_overlay.app import create_service
from sightline_overlay.recall import StreamRecall
from sightline_overlay.settings import OverlaySettings
from sightline_runtime import subjects
from sightline_runtime.devices import DeviceRegistry, StaticDirectory
from sightline_runtime.events import event_headers, new_meta
from sightline_runtime.inbox import MemoryInbox
from sightline_runtime.processes import free_port
from sightline_runtime.streams import ensure_streams
from sightline_runtime.surface import deployment_streams, load_surfaces

SIGN = [("出口", (0.10, 0.20, 0.20, 0.10), "zh"), ("禁止吸烟", (0.55, 0.60, 0.30, 0.10), "zh"), ("EXIT", (0.60, 0.10, 0.15, 0.08), "en")]
TRANSLATED = {0: ("出口", "Exit"), 1: ("禁止吸烟", "No smoking"), 2: ("EXIT", "EXIT")}


def vision(
    device: str, photo_id: str, regions=SIGN, *, taken_ago_s: float = 0.0, analysed_ago_s: float = 0.0, target: str = "en", width=1280
) -> VisionResult:
    event = VisionResult(meta=new_meta(device, "vision"), photo_id=photo_id, image_width=width, image_height=960, target_language=target)
    now = dt.datetime.now(dt.UTC)
    event.captured_at.FromDatetime(now - dt.timedelta(seconds=taken_ago_s))
    event.meta.created_at.FromDatetime(now - dt.timedelta(seconds=analysed_ago_s))
    for text, (x, y, w, h), language in regions:
        event.text_regions.append(TextRegion(text=text, box=Box(x=x, y=y, width=w, height=h), confidence=0.9, language=language))
    return event


def translation(device: str, result: VisionResult, texts=TRANSLATED, *, status=TranslationStatus.TRANSLATION_STATUS_OK) -> Translation:
    event = Translation(
        meta=new_meta(device, "translation"),
        source_event_id=result.meta.event_id,
        photo_id=result.photo_id,
        origin=TextOrigin.TEXT_ORIGIN_SIGN,
        target_language="en",
        is_final=True,
        status=status,
        engine="cedict",
    )
    for index, (source, text) in texts.items():
        event.regions.append(TranslatedRegion(region_index=index, source_text=source, text=text))
    return event


def over_its_region(label, slack: float = 1e-6) -> bool:
    """The label's placement intersects or touches its anchor."""
    a, p = label.anchor, label.placement
    return p.x <= a.x + a.width + slack and a.x <= p.x + p.width + slack and p.y <= a.y + a.height + slack and a.y <= p.y + p.height + slack


def statuses(update: DisplayUpdate) -> list[tuple[str, str]]:
    return [(" ".join(label.text.lines), label.translation_status) for label in update.labels.labels]


async def make_service(**settings):
    service = create_service(OverlaySettings(**settings))
    await service.assemble_in_memory(StaticDirectory(["a", "b"]), MemoryInbox())
    return service


def watch(service, device: str) -> list[DisplayUpdate]:
    received: list[DisplayUpdate] = []

    @service.broker.subscriber(f"glasses.{device}.down.display")
    async def on_display(body: bytes):
        received.append(DisplayUpdate.FromString(body))

    return received


def sample(of, name: str, **labels) -> float:
    return of.metrics.registry.get_sample_value(name, labels) or 0.0


async def until(predicate, timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.fixture
async def service():
    service = await make_service()
    yield service
    await service.handlers.close()


async def test_a_photo_shows_its_labels_at_once_then_their_translations(service):
    on_a, on_b = watch(service, "a"), watch(service, "b")
    result = vision("a", "p1")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(result.SerializeToString(), "vision.result.a")
        await broker.publish(translation("a", result).SerializeToString(), "translation.photo.a")
    first, second = on_a
    assert first.region == HudRegion.HUD_REGION_LABELS
    assert (first.bounds.x, first.bounds.y, first.bounds.width, first.bounds.height) == (0, 32, 640, 288)
    assert first.labels.photo_id == "p1"
    assert statuses(first) == [("出口", "pending"), ("禁止吸烟", "pending"), ("EXIT", "")]
    assert statuses(second) == [("Exit", ""), ("No smoking", ""), ("EXIT", "")]
    assert [label.source_text for label in second.labels.labels] == ["出口", "禁止吸烟", ""]
    assert second.region_version > first.region_version
    assert second.meta.causation_id
    assert first.meta.causation_id == result.meta.event_id
    assert all(over_its_region(label) for label in second.labels.labels)
    assert on_b == []
    assert sample(service, "sightline_overlay_labels_total", outcome="drawn") == 3
    assert sample(service, "sightline_overlay_photo_results_total", outcome="shown") == 1
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="applied") == 1
    assert sample(service, "sightline_overlay_display_updates_total", region="labels") == 2


async def test_the_devices_default_language_is_the_target_when_the_photo_names_none():
    service = await make_service()
    service.guard.directory.records["a"].default_target_language = "en"
    on_a = watch(service, "a")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(vision("a", "p1", target="").SerializeToString(), "vision.result.a")
    assert statuses(on_a[0])[:2] == [("出口", "pending"), ("禁止吸烟", "pending")]
    service.guard.directory.records["a"].default_target_language = ""
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(vision("a", "p2", target="").SerializeToString(), "vision.result.a")
    assert [status for _, status in statuses(on_a[1])] == ["", "", ""], "no language to translate into: shown as read"
    await service.handlers.close()


async def test_labels_say_late_when_no_translation_comes_and_the_translation_still_wins():
    service = await make_service(labels_translation_deadline_s=0.2)
    on_a = watch(service, "a")
    result = vision("a", "p1")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(result.SerializeToString(), "vision.result.a")
        await until(lambda: len(on_a) == 2)
        assert statuses(on_a[1]) == [("出口", "late"), ("禁止吸烟", "late"), ("EXIT", "")]
        await broker.publish(translation("a", result).SerializeToString(), "translation.photo.a")
        await asyncio.sleep(0.3)
    assert len(on_a) == 3
    assert statuses(on_a[2])[0] == ("Exit", "")
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="late") == 1
    await service.handlers.close()


async def test_a_new_photo_replaces_the_last_ones_labels_and_its_deadline():
    service = await make_service(labels_translation_deadline_s=0.3)
    on_a = watch(service, "a")
    first = vision("a", "p1", taken_ago_s=0.1)
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(first.SerializeToString(), "vision.result.a")
        await asyncio.sleep(0.15)
        second = vision("a", "p2")
        await broker.publish(second.SerializeToString(), "vision.result.a")
        await asyncio.sleep(0.25)  # past p1's deadline, before p2's
        assert [u.labels.photo_id for u in on_a] == ["p1", "p2"], "p1's deadline went with it"
        # p1's translation comes after all: p1 is no longer shown, so it is ignored.
        await broker.publish(translation("a", first).SerializeToString(), "translation.photo.a")
        await until(lambda: len(on_a) == 3)
    assert on_a[2].labels.photo_id == "p2"
    assert statuses(on_a[2])[0] == ("出口", "late")
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="not_current") == 1
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="late") == 1
    await service.handlers.close()


async def test_an_older_photos_result_arriving_late_does_not_replace_the_newer(service):
    on_a = watch(service, "a")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(vision("a", "new").SerializeToString(), "vision.result.a")
        await broker.publish(vision("a", "old", taken_ago_s=10).SerializeToString(), "vision.result.a")
    assert [u.labels.photo_id for u in on_a] == ["new"]
    assert sample(service, "sightline_overlay_photo_results_total", outcome="older") == 1


async def test_a_photo_taken_offline_an_hour_ago_and_analysed_now_is_shown(service):
    on_a = watch(service, "a")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(vision("a", "offline", taken_ago_s=3600).SerializeToString(), "vision.result.a")
    assert [u.labels.photo_id for u in on_a] == ["offline"]


async def test_a_translation_that_comes_before_its_result_is_applied_when_it_comes(service):
    on_a = watch(service, "a")
    result = vision("a", "p1")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(translation("a", result).SerializeToString(), "translation.photo.a")
        assert on_a == []
        await broker.publish(result.SerializeToString(), "vision.result.a")
    [update] = on_a
    assert statuses(update) == [("Exit", ""), ("No smoking", ""), ("EXIT", "")]
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="early") == 1
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="applied") == 1


async def test_a_translation_for_another_devices_photo_never_applies(service):
    on_a, on_b = watch(service, "a"), watch(service, "b")
    result = vision("a", "p1")
    forged = translation("b", result)  # a's photo id, on b's subject
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(result.SerializeToString(), "vision.result.a")
        await broker.publish(forged.SerializeToString(), "translation.photo.b")
        # Naming device a on b's subject is refused by the guard.
        wrong_meta = translation("a", result)
        await broker.publish(wrong_meta.SerializeToString(), "translation.photo.b")
    assert len(on_a) == 1
    assert statuses(on_a[0])[0] == ("出口", "pending")
    assert on_b == []
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="early") == 1
    assert sample(service, "sightline_events_rejected_total", service="overlay", handler="photo_translation", reason="device_mismatch") == 1


async def test_bad_input_gets_a_clear_outcome(service):
    on_a = watch(service, "a")
    no_photo = vision("a", "")
    no_size = vision("a", "p1", width=0)
    stranger = vision("stranger", "p9")
    stale = vision("a", "p-old", taken_ago_s=3600, analysed_ago_s=3600)  # a replay of last hour's result
    broken = vision(
        "a",
        "p2",
        regions=[("", (0.1, 0.1, 0.1, 0.1), "zh"), ("出口", (float("nan"), 0.1, 0.1, 0.1), "zh"), ("出口", (0.1, 0.1, -1, 0.1), "zh")],
    )
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(no_photo.SerializeToString(), "vision.result.a")
        await broker.publish(no_size.SerializeToString(), "vision.result.a")
        await broker.publish(stranger.SerializeToString(), "vision.result.stranger")
        await broker.publish(stale.SerializeToString(), "vision.result.a")
        await broker.publish(b"\xff\x00 not a protobuf", "vision.result.a")
        await broker.publish(broken.SerializeToString(), "vision.result.a")
        good = vision("a", "p3")
        await broker.publish(good.SerializeToString(), "vision.result.a")
        out_of_range = translation("a", good, {0: ("出口", "Exit"), 99: ("?", "nothing"), 1: ("禁止吸烟", "No smoking")})
        await broker.publish(out_of_range.SerializeToString(), "translation.photo.a")
        no_photo_id = translation("a", good)
        no_photo_id.photo_id = ""
        await broker.publish(no_photo_id.SerializeToString(), "translation.photo.a")
    rejected = {
        (handler, reason): sample(service, "sightline_events_rejected_total", service="overlay", handler=handler, reason=reason)
        for handler, reason in [
            ("vision_result", "invalid"),
            ("vision_result", "unknown_device"),
            ("vision_result", "malformed"),
            ("photo_translation", "invalid"),
        ]
    }
    assert rejected == {
        ("vision_result", "invalid"): 2,  # no photo id; text regions without the photo's size
        ("vision_result", "unknown_device"): 1,
        ("vision_result", "malformed"): 1,
        ("photo_translation", "invalid"): 1,  # no photo id
    }
    assert sample(service, "sightline_overlay_photo_results_total", outcome="stale") == 1
    assert sample(service, "sightline_overlay_label_regions_skipped_total", reason="empty_text") == 1
    assert sample(service, "sightline_overlay_label_regions_skipped_total", reason="bad_box") == 2
    assert sample(service, "sightline_overlay_label_regions_skipped_total", reason="bad_index") == 1
    # p2 had no usable region: an empty labels region (its photo still current); then p3, then p3 translated.
    assert [(u.labels.photo_id, len(u.labels.labels)) for u in on_a] == [("p2", 0), ("p3", 3), ("p3", 3)]
    assert statuses(on_a[-1])[:2] == [("Exit", ""), ("No smoking", "")]


# --- a real nats-server ---
async def _labels(glasses: GlassesAgent, idle_s: float = 1.5):
    return [u async for u in glasses.updates(idle_s) if u.region == HudRegion.HUD_REGION_LABELS]


async def test_a_vision_result_and_its_translation_become_labels_on_the_glasses(nats_server, run_service):
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    registry = await DeviceRegistry(js).open()
    await registry.add("a")
    await registry.add("b")
    settings = OverlaySettings(nats_url=nats_server.url, http_port=free_port(), http_host="127.0.0.1")
    overlay = await run_service(create_service(settings))
    assert {"vision_result", "photo_translation"} <= {p.spec.name for p in overlay._pending}, "no owner streams yet"

    # vision and translation start: their streams appear and overlay's durables attach.
    await ensure_streams(js, deployment_streams(load_surfaces(["vision", "translation"])))
    async with asyncio.timeout(15):
        while {"vision_result", "photo_translation"} & {p.spec.name for p in overlay._pending}:
            await asyncio.sleep(0.1)
    # They start at new events: publish once they exist (created as they start pulling).
    async with asyncio.timeout(15):
        while not {"overlay-vision-results", "overlay-photo-translations"} <= {
            info.name for stream in ("VISION", "TRANSLATION") for info in await js.consumers_info(stream)
        }:
            await asyncio.sleep(0.05)

    async def publish(subject, event, stream):
        await js.publish(subject, event.SerializeToString(), headers=event_headers(event), stream=stream)

    async with GlassesAgent.connect("a", nats_server.url) as a, GlassesAgent.connect("b", nats_server.url) as b:
        result = vision("a", "p1")
        await publish(subjects.domain("vision", "result", "a"), result, "VISION")
        await publish(subjects.domain("translation", "photo", "a"), translation("a", result), "TRANSLATION")
        updates = await _labels(a)
        assert [statuses(u) for u in updates] == [
            [("出口", "pending"), ("禁止吸烟", "pending"), ("EXIT", "")],
            [("Exit", ""), ("No smoking", ""), ("EXIT", "")],
        ]
        assert all(over_its_region(label) for label in updates[-1].labels.labels)

        # The next photo's translation happens to come first (another stream): its labels come translated.
        second = vision("a", "p2")
        await publish(subjects.domain("translation", "photo", "a"), translation("a", second), "TRANSLATION")
        await asyncio.sleep(0.3)
        await publish(subjects.domain("vision", "result", "a"), second, "VISION")
        [update] = await _labels(a)
        assert update.labels.photo_id == "p2"
        assert statuses(update) == [("Exit", ""), ("No smoking", ""), ("EXIT", "")]
        assert await _labels(b, idle_s=0.3) == []
    await nc.drain()


# --- another replica took the other half: the streams have it ---
@pytest.fixture
async def photo_streams(nats_server):
    """vision's and translation's streams on a real server, for the lookups."""
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream(), deployment_streams(load_surfaces(["vision", "translation"])))
    yield nc.jetstream()
    await nc.drain()


async def _store(js, subject: str, event, stream: str) -> None:
    await js.publish(subject, event.SerializeToString(), headers=event_headers(event), stream=stream)


async def test_a_translation_for_a_photo_this_replica_never_saw_shows_it_from_visions_stream(photo_streams):
    service = await make_service()
    service.handlers.recall = StreamRecall(photo_streams)
    on_a = watch(service, "a")
    result = vision("a", "p1")
    # Another replica consumed the result: this one only finds it in VISION.
    await _store(photo_streams, "vision.result.a", result, "VISION")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(translation("a", result).SerializeToString(), "translation.photo.a")
        # The result reaching this replica too (a redelivery) changes nothing.
        await broker.publish(result.SerializeToString(), "vision.result.a")
    [update] = on_a
    assert update.labels.photo_id == "p1"
    assert statuses(update) == [("Exit", ""), ("No smoking", ""), ("EXIT", "")]
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="recalled") == 1
    assert sample(service, "sightline_overlay_photo_results_total", outcome="duplicate") == 1
    await service.handlers.close()


async def test_before_saying_late_the_translation_another_replica_took_is_looked_up(photo_streams):
    service = await make_service(labels_translation_deadline_s=0.3)
    service.handlers.recall = StreamRecall(photo_streams)
    on_a = watch(service, "a")
    first, second = vision("a", "p1"), vision("a", "p2")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(first.SerializeToString(), "vision.result.a")
        # Another replica consumed p1's translation: it is in TRANSLATION only.
        await _store(photo_streams, "translation.photo.a", translation("a", first), "TRANSLATION")
        await until(lambda: len(on_a) == 2)
        # Then p2, whose translation nobody has: it is late after all.
        await broker.publish(second.SerializeToString(), "vision.result.a")
        await until(lambda: len(on_a) == 4)
    assert [(u.labels.photo_id, statuses(u)[0]) for u in on_a] == [
        ("p1", ("出口", "pending")),
        ("p1", ("Exit", "")),
        ("p2", ("出口", "pending")),
        ("p2", ("出口", "late")),
    ]
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="recalled") == 1
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="late") == 1
    await service.handlers.close()


async def test_nothing_in_the_streams_leaves_this_replicas_view_as_it_is(photo_streams):
    service = await make_service()
    service.handlers.recall = StreamRecall(photo_streams)
    on_a = watch(service, "a")
    async with TestNatsBroker(service.broker) as broker:
        await broker.publish(translation("a", vision("a", "p9")).SerializeToString(), "translation.photo.a")
    assert on_a == []
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="early") == 1
    assert sample(service, "sightline_overlay_photo_translations_total", outcome="recalled") == 0
    await service.handlers.close()
