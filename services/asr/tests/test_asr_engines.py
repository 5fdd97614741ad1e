"""The real engines and VAD on speech synthesised at test time."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sightline_asr import testing
from sightline_asr.engines import EngineError, Hypothesis, make_engine
from sightline_asr.engines.moonshine import MoonshineEngine, model_dir, read_tokenizer
from sightline_asr.engines.runner import EngineRunner
from sightline_asr.vad import WINDOW, SileroVad


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> list[tuple[str, np.ndarray]]:
    testing.require("espeak-ng", "sox")
    folder = tmp_path_factory.mktemp("engines")
    return [(text, testing.speech_pcm(text, folder, f"s{i}")) for i, text in enumerate(testing.SENTENCES[:4])]


@pytest.fixture(scope="module")
def moonshine() -> MoonshineEngine:
    engine = MoonshineEngine()
    engine.load()
    return engine


def test_the_tokenizer_is_read_as_moonshine_cpp_writes_it():
    tokens = read_tokenizer(model_dir() / "tokenizer.bin")
    assert len(tokens) == 32_000
    assert tokens[:3] == [b"<unk>", b"<s>", b"</s>"]
    assert any(t.startswith("▁".encode()) for t in tokens[300:400]), "word-initial pieces carry the ▁ marker"


def test_moonshine_transcribes_english(moonshine, spoken):
    texts = [moonshine.transcribe(pcm).text for _, pcm in spoken]
    assert testing.word_error_rate([t for t, _ in spoken], texts) <= 0.2, texts


def test_a_hint_changes_the_speed_never_the_result(moonshine, spoken):
    for _, pcm in spoken:
        plain = moonshine.transcribe(pcm)
        partial = moonshine.transcribe(pcm[: pcm.size * 6 // 10])  # what a partial had seen
        wrong = Hypothesis(text="", hint=tuple(range(500, 530)))
        assert moonshine.transcribe(pcm, partial).hint == plain.hint
        assert moonshine.transcribe(pcm, plain).hint == plain.hint
        assert moonshine.transcribe(pcm, wrong).hint == plain.hint


def test_moonshine_takes_tiny_and_silent_input_without_failing(moonshine):
    for samples in (0, 10, 16_000):
        hyp = moonshine.transcribe(np.zeros(samples, dtype=np.int16))
        assert len(hyp.hint) <= math.ceil(max(samples, 1600) / 16_000 * 6.5) + 2, "output is bounded by the audio length"


def test_an_unknown_engine_is_a_clear_error():
    with pytest.raises(EngineError, match="unknown ASR engine 'whisper'"):
        make_engine("whisper")


async def _max_loop_lag(during: asyncio.Future) -> float:
    """Largest delay of a 10 ms tick while `during` runs."""
    lag = 0.0
    while not during.done():
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lag = max(lag, time.perf_counter() - started - 0.01)
    await during
    return lag


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["moonshine", "pocketsphinx"])
async def test_inference_never_blocks_the_event_loop(kind, spoken):
    runner = EngineRunner(kind)
    await runner.load()
    try:
        audio = np.concatenate([pcm for _, pcm in spoken])  # ~12 s of speech: long inferences
        inference = asyncio.ensure_future(runner.transcribe(audio))
        lag = await _max_loop_lag(inference)
        hyp, seconds = inference.result()
        assert hyp.text, f"{kind} heard nothing"
        assert seconds > 0.2, "a real inference ran"
        # Moonshine runs in a thread (ONNX Runtime releases the GIL), PocketSphinx
        # in a process (it holds the GIL): the loop keeps ticking either way.
        assert lag < 0.1, f"the event loop stalled {lag * 1000:.0f} ms during {kind} inference"
    finally:
        runner.close()


def test_silero_hears_speech_and_not_noise(spoken, tmp_path):
    vad = SileroVad()

    def speech_share(pcm: np.ndarray) -> float:
        stream = vad.stream()
        probs = [stream.probability(pcm[i : i + WINDOW]) for i in range(0, pcm.size - WINDOW + 1, WINDOW)]
        return sum(p >= 0.5 for p in probs) / len(probs)

    for color in ("white", "pink", "brown"):
        assert speech_share(testing.noise_pcm(tmp_path, 3.0, color=color, volume=0.5)) == 0.0, color
    assert speech_share(testing.silence(2.0)) == 0.0
    for _, pcm in spoken:
        start, end = testing.speech_bounds(pcm)
        assert speech_share(pcm[int(start * 16000) : int(end * 16000)]) >= 0.7


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["moonshine", "pocketsphinx"])
async def test_two_workers_transcribe_two_utterances_at_once_with_the_results_of_one(kind, spoken):
    """Moonshine's threads share one ONNX Runtime session, PocketSphinx gets a
    process each: either way two inferences overlap, and each result is what a
    lone engine gives (the shared session is safe to run from two threads)."""
    alone = make_engine(kind)
    alone.load()
    audios = [np.concatenate([pcm, pcm]) for _, pcm in spoken]  # ~6 s each: long enough to overlap
    expected = [alone.transcribe(audio).text for audio in audios]
    runner = EngineRunner(kind, workers=2)
    await runner.load()
    try:
        started = time.perf_counter()
        results = await asyncio.gather(*(runner.transcribe(audio) for audio in audios))
        wall = time.perf_counter() - started
    finally:
        runner.close()
    got = [hyp.text for hyp, _ in results]
    if kind == "moonshine":
        assert got == expected  # stateless: the same audio gives the same text on any thread
    else:
        # A PocketSphinx decoder adapts its cepstral mean from utterance to utterance, so a
        # worker that decoded other utterances before may hear a word differently.
        for mine, lone in zip(got, expected, strict=True):
            assert testing.word_error_rate([lone], [mine]) <= 0.15, (mine, lone)
    busy = sum(seconds for _, seconds in results)  # each inference's own time, measured in its worker
    print(f"{kind}: {len(audios)} inferences, {busy:.2f} s of inference in {wall:.2f} s")
    # One worker would need at least the sum; two overlap (2 cores here, so about half).
    assert wall < 0.85 * busy, f"{busy:.2f} s of inference took {wall:.2f} s: the workers did not run at once"


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


@pytest.mark.slow
def test_worker_processes_end_when_the_service_is_killed(tmp_path):
    """SIGKILL the service: its PocketSphinx worker processes must not live on
    (orphans waiting for work forever, seen after benchmark runs)."""
    script = tmp_path / "service.py"
    script.write_text(
        "import asyncio, time\n"
        "from sightline_asr.engines.runner import EngineRunner\n"
        "async def main():\n"
        "    runner = EngineRunner('pocketsphinx', workers=2)\n"
        "    await runner.load()\n"
        "    print('loaded', flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        assert service.stdout.readline().strip() == "loaded"
        workers = {pid for pid in _children(service.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()}
        assert len(workers) == 2, "two worker processes, both loaded before load() returned"
    finally:
        service.kill()
        service.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "worker processes outlived their service"


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
