"""The Apertium engine with the real Debian packages (apertium, apertium-eng-spa):
translations, escaping, batching, and what happens when the process fails.
Without apertium installed these tests fail (loudly), they never skip."""

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from sightline_translation.engines import EngineTimeout, Lane
from sightline_translation.engines.apertium import ApertiumEngine, ApertiumError, escape, unescape
from sightline_translation.languages import Pair

EN_ES = Pair("en", "es")
ES_EN = Pair("es", "en")
APERTIUM = Path("/usr/share/apertium")


@pytest.fixture
async def engine():
    eng = ApertiumEngine({EN_ES: "eng-spa", ES_EN: "spa-eng"}, data_dir=APERTIUM, timeout_s=10)
    await eng.start()
    yield eng
    await eng.close()


def _fake_mode(tmp_path: Path, name: str, script: str) -> Path:
    """A mode whose pipeline is a script of ours (it ignores the -z apertium-wblank-mode adds)."""
    (tmp_path / "modes").mkdir(exist_ok=True)
    program = tmp_path / f"{name}.sh"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(0o755)
    (tmp_path / "modes" / f"{name}.mode").write_text(str(program))
    return tmp_path


async def test_translates_english_to_spanish_and_back(engine):
    es = await engine.translate(["Where is the train station?", "The water is very cold.", "Thank you very much for your help."], EN_ES)
    assert "tren" in es[0].lower()
    assert "agua" in es[1].lower()
    assert "fría" in es[1].lower()
    assert "gracias" in es[2].lower()
    assert "ayuda" in es[2].lower()
    en = await engine.translate(["Quiero un café con leche."], ES_EN)
    assert "coffee" in en[0].lower()
    assert "milk" in en[0].lower()


async def test_stream_format_characters_and_placeholders_come_back_literally(engine):
    [out] = await engine.translate(["Price: $5 [special] a/b <x> ^y@z \\ {w} ⟦0⟧ costs 10 euros."], EN_ES)
    for literal in ("$5", "[", "]", "/", "<x>", "^", "@", "\\", "{w}", "⟦0⟧", "10"):
        assert literal in out, f"{literal!r} lost in {out!r}"
    assert "\0" not in out


def test_escape_and_unescape_round_trip_special_characters():
    raw = "a [b] $c ^d/e <f> @g *h #i ~j +k |l \\m {n}"
    assert unescape(escape(raw)) == raw
    assert escape("two\nlines\0here").endswith(b" \0")
    assert b"\0" not in escape("two\nlines\0here")[:-1]


async def test_a_large_batch_keeps_order_and_does_not_deadlock_the_pipes(engine):
    texts = [f"I have {n} dogs." for n in range(300)]
    started = time.perf_counter()
    out = await engine.translate(texts, EN_ES)
    assert len(out) == 300
    assert all(f"{n} " in t and "perro" in t.lower() for n, t in enumerate(out)), out[:3]
    assert time.perf_counter() - started < 8


async def test_empty_text_gives_empty_translation(engine):
    assert await engine.translate(["", "   "], EN_ES) == ["", ""]


async def test_a_killed_pipeline_is_restarted_and_the_call_still_answers(engine):
    pipeline = engine.pipelines[(EN_ES, Lane.FINAL)]
    os.killpg(pipeline._proc.pid, signal.SIGKILL)
    await asyncio.sleep(0.1)
    [out] = await engine.translate(["Good morning"], EN_ES)
    assert "buenos días" in out.lower()
    assert engine.restarts == 1

    # Killed while a batch is in flight: the batch is retried on a new pipeline.
    call = asyncio.create_task(engine.translate(["Good night"] * 300, EN_ES))
    await asyncio.sleep(0.01)
    os.killpg(pipeline._proc.pid, signal.SIGKILL)
    out = await call
    assert len(out) == 300
    assert "noche" in out[-1].lower()
    assert engine.restarts == 2


async def test_a_partial_never_waits_for_a_busy_final_lane_and_vice_versa(engine):
    # Hold the partial lane's pipeline as a slow storm of partials would.
    async with engine.pipelines[(EN_ES, Lane.PARTIAL)]._lock:
        started = time.perf_counter()
        [out] = await engine.translate(["The museum opens at nine."], EN_ES, lane=Lane.FINAL)
        assert "museo" in out.lower()
        assert time.perf_counter() - started < 1.0


async def test_a_hanging_pipeline_times_out_and_is_killed(tmp_path):
    data = _fake_mode(tmp_path, "hang", "exec sleep 1000")
    engine = ApertiumEngine({EN_ES: "hang"}, data_dir=data, timeout_s=0.5)
    pipeline = engine.pipelines[(EN_ES, Lane.FINAL)]
    await pipeline.start()
    pid = pipeline._proc.pid
    with pytest.raises(EngineTimeout, match=r"took over 0\.5s"):
        await engine.translate(["hello"], EN_ES)
    assert not pipeline.alive
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    await engine.close()


async def test_a_pipeline_that_dies_at_once_fails_start_with_its_stderr(tmp_path):
    data = _fake_mode(tmp_path, "dead", "echo 'cannot open transducer' >&2; exit 3")
    engine = ApertiumEngine({EN_ES: "dead"}, data_dir=data)
    with pytest.raises(ApertiumError, match="failed twice: cannot open transducer"):
        await engine.start()
    await engine.close()


async def test_a_missing_language_pair_is_a_clear_start_up_error(tmp_path):
    (tmp_path / "modes").mkdir()
    engine = ApertiumEngine({Pair("en", "fr"): "eng-fra"}, data_dir=tmp_path)
    with pytest.raises(ApertiumError, match=r"mode 'eng-fra' not found .* language pair package installed"):
        await engine.start()
