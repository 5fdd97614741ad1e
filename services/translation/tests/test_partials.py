"""Latest-wins scheduling of partial translations (no engine needed: the
run callback records what would be translated and when)."""

import asyncio
import time
from collections import Counter

from sightline_translation.partials import PartialCoalescer


class Recorder:
    def __init__(self, work_s: float = 0.0) -> None:
        self.calls: list[tuple[object, str, float]] = []
        self.work_s = work_s
        self.running = 0
        self.max_running = 0

    async def __call__(self, key, job) -> None:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.calls.append((key, job, time.monotonic()))
        await asyncio.sleep(self.work_s)
        self.running -= 1


async def _settle(coalescer: PartialCoalescer, timeout_s: float = 3.0) -> None:
    async with asyncio.timeout(timeout_s):
        while any(s.worker is not None and not s.worker.done() for s in coalescer._utterances.values()):
            await asyncio.sleep(0.01)


async def test_a_burst_of_partials_costs_two_calls_first_and_newest():
    run, skipped = Recorder(work_s=0.01), Counter()
    coalescer = PartialCoalescer(run, min_interval_s=0.2, on_skip=lambda r: skipped.update([r]))
    for revision in range(1, 51):
        coalescer.submit(("dev", "u1"), revision, f"partial {revision}")
        await asyncio.sleep(0.001)
    await _settle(coalescer)
    assert [job for _, job, _ in run.calls] == ["partial 1", "partial 50"]
    assert skipped["superseded"] == 48
    assert run.calls[1][2] - run.calls[0][2] >= 0.19, "engine calls of one utterance are spaced by the interval"


async def test_steady_partials_slower_than_the_interval_are_all_translated():
    run = Recorder()
    coalescer = PartialCoalescer(run, min_interval_s=0.05)
    for revision in range(1, 6):
        coalescer.submit(("dev", "u1"), revision, revision)
        await asyncio.sleep(0.08)
    await _settle(coalescer)
    assert [job for _, job, _ in run.calls] == [1, 2, 3, 4, 5]


async def test_the_final_drops_waiting_partials_and_late_results():
    run, skipped = Recorder(work_s=0.1), Counter()
    coalescer = PartialCoalescer(run, min_interval_s=0.0, on_skip=lambda r: skipped.update([r]))
    key = ("dev", "u1")
    coalescer.submit(key, 1, "first")
    await asyncio.sleep(0.02)  # "first" is being translated
    coalescer.submit(key, 2, "second")  # waits
    coalescer.finalize(key)
    assert not coalescer.is_current(key), "a result still in flight must not be published"
    assert coalescer.submit(key, 3, "after the final") is False
    await _settle(coalescer)
    assert [job for _, job, _ in run.calls] == ["first"]
    assert skipped == Counter({"finalized": 2})


async def test_out_of_order_partials_are_dropped():
    run, skipped = Recorder(), Counter()
    coalescer = PartialCoalescer(run, min_interval_s=0.0, on_skip=lambda r: skipped.update([r]))
    coalescer.submit(("dev", "u1"), 5, "five")
    coalescer.submit(("dev", "u1"), 3, "three")
    await _settle(coalescer)
    assert [job for _, job, _ in run.calls] == ["five"]
    assert skipped["stale"] == 1


async def test_utterances_are_independent_and_concurrency_is_capped():
    run = Recorder(work_s=0.05)
    coalescer = PartialCoalescer(run, min_interval_s=0.0, max_concurrency=2)
    for device in range(6):
        coalescer.submit((f"dev{device}", "u"), 1, device)
    await _settle(coalescer)
    assert sorted(job for _, job, _ in run.calls) == list(range(6))
    assert run.max_running == 2


async def test_state_is_bounded_and_a_failing_run_does_not_stop_the_utterance():
    calls = []

    async def flaky(key, job):
        calls.append(job)
        if job == "boom":
            raise RuntimeError("engine exploded")

    coalescer = PartialCoalescer(flaky, min_interval_s=0.0, max_utterances=10)
    coalescer.submit(("dev", "u1"), 1, "boom")
    await _settle(coalescer)
    coalescer.submit(("dev", "u1"), 2, "fine")
    await _settle(coalescer)
    assert calls == ["boom", "fine"]
    for n in range(50):
        coalescer.submit(("dev", f"u{n}"), 1, n)
        await _settle(coalescer)
    assert len(coalescer._utterances) <= 10
    await coalescer.close()
