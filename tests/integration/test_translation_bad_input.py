"""Bad input and failing engines in the running translation service: each
case gets a clear error (ErrorEvent, log line, metric), never a crash or a
redelivery loop, and the service keeps translating good transcripts."""

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest
from sightline.v1.errors_pb2 import ErrorCode, ErrorEvent
from sightline.v1.translation_pb2 import TranslationStatus
from sightline_asr.bus import ASR
from sightline_runtime.consumer import DLQ_REASON
from sightline_runtime.events import event_headers
from sightline_translation.app import create_service
from sightline_translation.settings import TranslationSettings
from sightline_translation.testing import TranslationTap, publish_transcript, transcript

from tests.integration.streams import read_stream


async def _nothing_more(js, stream, subject, *, after, wait_s=0.5):
    await asyncio.sleep(wait_s)
    info = await js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values()) == after


def _count(service, name, labels):
    return service.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def translation(nats_server, owner_streams, run_service, http_port):
    settings = TranslationSettings(nats_url=nats_server.url, http_port=http_port, http_host="127.0.0.1")
    return await run_service(create_service(settings), timeout_s=60)


async def _still_translates(nc, sentence="The water is very cold.", word="agua"):
    async with TranslationTap(nc, "alpha") as tap:
        await publish_transcript(nc, transcript("alpha", sentence, utterance_id="good", final=True, target_language="es"))
        final = await tap.final()
    assert word in final.text.lower()


async def test_malformed_oversized_and_overlong_transcripts_are_refused(translation, nc, registry, caplog):
    await registry.add("alpha")
    js = nc.jetstream()
    long_text = transcript("alpha", "word " * 500, final=True, target_language="es")  # 2500 characters
    bad = [
        (b"\xff\xfe\x00 not a protobuf", "malformed", ErrorCode.ERROR_CODE_MALFORMED),
        (b"\x0a" + b"x" * 300_000, "oversized", ErrorCode.ERROR_CODE_OVERSIZED),
        (long_text.SerializeToString(), "invalid", ErrorCode.ERROR_CODE_INVALID),
        (
            transcript("alpha", "Hi.", final=True, language="", target_language="es").SerializeToString(),
            "invalid",
            ErrorCode.ERROR_CODE_INVALID,
        ),
    ]
    with caplog.at_level(logging.WARNING, logger="sightline_runtime.consumer"):
        for body, _, _ in bad:
            await js.publish("asr.final.alpha", body, stream=ASR.name)
        dead = await read_stream(js, "DEAD_LETTERS", "dlq.translation.asr_final", count=len(bad))
        errors = [ErrorEvent.FromString(m.data) for m in await read_stream(js, "ERRORS", "errors.translation.>", count=len(bad))]
    assert [m.headers[DLQ_REASON] for m in dead] == [reason for _, reason, _ in bad]
    assert [e.code for e in errors] == [code for _, _, code in bad]
    assert "2500 characters is over the 2000-character limit" in errors[2].message
    assert "transcript language" in errors[3].message
    assert (
        _count(translation, "sightline_events_rejected_total", {"service": "translation", "handler": "asr_final", "reason": "invalid"}) == 2
    )
    assert any(getattr(r, "reason", "") == "malformed" for r in caplog.records)
    info = await js.consumer_info(ASR.name, "translation-finals")
    assert (info.num_ack_pending, info.num_redelivered) == (0, 0), "refused, not redelivered"
    await _still_translates(nc)


async def test_an_empty_transcript_is_skipped_without_error(translation, nc, registry):
    await registry.add("alpha")
    async with TranslationTap(nc, "alpha") as tap:
        await publish_transcript(nc, transcript("alpha", "   ", final=True, target_language="es"))
        await publish_transcript(nc, transcript("alpha", "", utterance_id="u2", target_language="es"))
        assert await tap.drain(idle_s=1.0) == []
    assert await _nothing_more(nc.jetstream(), "ERRORS", "errors.translation.>", after=0)
    assert _count(translation, "sightline_translation_translations_total", {"engine": "none", "kind": "final", "outcome": "empty"}) == 1
    assert _count(translation, "sightline_translation_translations_total", {"engine": "none", "kind": "partial", "outcome": "empty"}) == 1


async def test_an_unsupported_pair_is_reported_once_not_dead_lettered(translation, nc, registry):
    await registry.add("alpha")
    js = nc.jetstream()
    async with TranslationTap(nc, "alpha") as tap:
        for n in range(3):
            await publish_transcript(nc, transcript("alpha", "Hello.", utterance_id=f"u{n}", final=True, target_language="fr"))
        [error_msg] = await read_stream(js, "ERRORS", "errors.translation.alpha", count=1)
        said = await tap.drain(idle_s=0.5)
    # Each final says it gets no translation (so its caption can say so); the ErrorEvent stays one a minute.
    assert [(t.utterance_id, t.status, t.text) for t in said] == [
        (f"u{n}", TranslationStatus.TRANSLATION_STATUS_UNSUPPORTED, "") for n in range(3)
    ]
    error = ErrorEvent.FromString(error_msg.data)
    assert error.code == ErrorCode.ERROR_CODE_UNSUPPORTED_LANGUAGE
    assert "no translation engine for en->fr (routes: en-es, en-zh, es-en, zh-en)" in error.message
    assert await _nothing_more(js, "ERRORS", "errors.translation.alpha", after=1), "one report per device and pair per minute"
    assert await _nothing_more(js, "DEAD_LETTERS", "dlq.translation.>", after=0, wait_s=0)
    assert (
        _count(translation, "sightline_translation_translations_total", {"engine": "none", "kind": "final", "outcome": "unsupported"}) == 3
    )
    await _still_translates(nc)


def _apertium_pipelines() -> list[int]:
    """Pids of the eng-spa pipelines this test process started (bash -c 'lt-proc ... | ...')."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and b"eng-spa.automorf.bin" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


async def test_killed_apertium_processes_are_restarted_under_a_running_service(translation, nc, registry):
    await registry.add("alpha")
    await _still_translates(nc)
    pipelines = _apertium_pipelines()
    assert len(pipelines) == 2, "one en->es pipeline per lane (final, partial)"
    for pid in pipelines:
        os.killpg(pid, signal.SIGKILL)  # the whole pipeline: it runs in its own session
    await asyncio.sleep(0.1)
    await _still_translates(nc, "The museum is closed.", "museo")  # not cached: Apertium must answer
    assert _count(translation, "sightline_translation_engine_restarts_total", {"engine": "apertium"}) == 1
    assert len(_apertium_pipelines()) == 1, "the final lane runs again; the partial lane restarts when next needed"


async def test_when_every_engine_fails_the_final_is_retried_then_dead_lettered(
    nats_server, owner_streams, run_service, http_port, nc, registry, llm_proxy
):
    llm_proxy.mode = "status_500"  # the real model server in front of which the proxy fails every call
    settings = TranslationSettings(
        nats_url=nats_server.url,
        http_port=http_port,
        http_host="127.0.0.1",
        translation_routes="zh-en=openai-compatible",  # no local fallback on purpose
        translation_llm_url=llm_proxy.url,
        translation_llm_failure_threshold=100,
        max_deliver=2,
    )
    service = await run_service(create_service(settings), timeout_s=60)
    await registry.add("alpha")
    js = nc.jetstream()
    event = transcript("alpha", "小心地滑", final=True, language="zh", target_language="en")
    await js.publish("asr.final.alpha", event.SerializeToString(), headers=event_headers(event), stream=ASR.name)
    [dead] = await read_stream(js, "DEAD_LETTERS", "dlq.translation.asr_final", count=1, timeout_s=10)
    [error_msg] = await read_stream(js, "ERRORS", "errors.translation.alpha", count=1)
    error = ErrorEvent.FromString(error_msg.data)
    assert error.code == ErrorCode.ERROR_CODE_INTERNAL
    assert "TranslationFailed: every engine for zh-en failed: openai-compatible" in error.message
    assert error.delivery_attempt == 2
    assert dead.data == event.SerializeToString()
    assert len(llm_proxy.chat_exchanges) == 2, "one request per delivery attempt"
    assert _count(service, "sightline_translation_translations_total", {"engine": "none", "kind": "final", "outcome": "failed"}) == 2
