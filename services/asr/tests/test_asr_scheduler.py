"""The fair scheduler: round-robin turns in three queues (finals, first
partials, partials) on several workers; one job per device at a time except
a final beside the device's own partial, so a device with endless work
cannot starve the others and the end of speech never waits for a partial."""

from __future__ import annotations

import asyncio

import pytest
from sightline_asr.scheduler import FairScheduler, Priority


class Device:
    """A device with queued jobs of given priorities; each job sleeps `seconds`
    and logs (name, priority) when it starts and ends."""

    def __init__(self, name: str, jobs: list[Priority], log: list, *, seconds: float = 0.001) -> None:
        self.name, self.jobs, self.log, self.seconds = name, list(jobs), log, seconds
        self.running: list[Priority] = []
        self.most_in_flight = 0

    @property
    def priority(self) -> Priority | None:
        return min(self.jobs) if self.jobs else None

    def next_job(self, *, beside: bool):
        if not self.jobs or (beside and min(self.jobs) != Priority.FINAL):
            return None
        priority = min(self.jobs)
        self.jobs.remove(priority)

        async def job() -> None:
            assert Priority.FINAL not in self.running or priority != Priority.FINAL, "two finals of one device in flight"
            assert not self.running or (priority == Priority.FINAL and len(self.running) == 1), f"{self.name}: {self.running} + {priority}"
            self.running.append(priority)
            self.most_in_flight = max(self.most_in_flight, len(self.running))
            self.log.append(("start", self.name, priority))
            await asyncio.sleep(self.seconds)
            self.log.append(("end", self.name, priority))
            self.running.remove(priority)

        return job


async def drain(scheduler: FairScheduler, devices: list[Device], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while any(d.jobs or d.running for d in devices):
            await asyncio.sleep(0.002)


def starts(log: list) -> list[str]:
    return [name for kind, name, _ in log if kind == "start"]


async def test_a_busy_device_gets_one_turn_per_round_like_everyone_else():
    log: list = []
    scheduler = FairScheduler(workers=2)
    scheduler.start()
    hog = Device("hog", [Priority.PARTIAL] * 1000, log)
    scheduler.notify("hog", hog)
    await asyncio.sleep(0.02)  # the hog has been running alone for a while
    others = [Device(f"d{i}", [Priority.PARTIAL] * 3, log) for i in range(3)]
    for device in others:
        scheduler.notify(device.name, device)
    async with asyncio.timeout(5):
        while any(d.jobs or d.running for d in others):
            await asyncio.sleep(0.005)
    await scheduler.stop()
    order = starts(log)
    start = next(i for i, name in enumerate(order) if name != "hog")
    window = order[start : start + 12]
    # Within the rounds after the others arrived the hog gets about one turn in four, not all.
    assert window.count("hog") <= 6, window
    assert all(window.count(f"d{i}") >= 2 for i in range(3)), window
    assert hog.most_in_flight == 1, "a device's partials never run two at once, even with a free worker"


async def test_two_workers_run_two_devices_at_once():
    log: list = []
    scheduler = FairScheduler(workers=2)
    devices = [Device(f"d{i}", [Priority.PARTIAL] * 4, log, seconds=0.05) for i in range(2)]
    for device in devices:
        scheduler.notify(device.name, device)
    scheduler.start()
    started = asyncio.get_running_loop().time()
    await drain(scheduler, devices)
    elapsed = asyncio.get_running_loop().time() - started
    await scheduler.stop()
    in_flight, most = 0, 0
    for kind, _, _ in log:
        in_flight += 1 if kind == "start" else -1
        most = max(most, in_flight)
    assert most == 2, "both workers busy"
    assert elapsed < 8 * 0.05 * 0.8, f"8 jobs of 50 ms on 2 workers took {elapsed:.3f} s"
    assert all(d.most_in_flight == 1 for d in devices)


async def test_one_worker_runs_one_job_at_a_time():
    log: list = []
    scheduler = FairScheduler(workers=1)
    devices = [Device(f"d{i}", [Priority.PARTIAL, Priority.FINAL], log) for i in range(3)]
    for device in devices:
        scheduler.notify(device.name, device)
    scheduler.start()
    await drain(scheduler, devices)
    await scheduler.stop()
    kinds = [kind for kind, _, _ in log]
    assert kinds == ["start", "end"] * 6, log


async def test_a_failing_job_does_not_stop_the_worker():
    done: list[str] = []

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        @property
        def priority(self) -> Priority | None:
            return Priority.PARTIAL if self.calls < 2 else None

        def next_job(self, *, beside: bool):
            self.calls += 1
            first = self.calls == 1

            async def job() -> None:
                if first:
                    raise RuntimeError("engine crashed")
                done.append("second")

            return job

    scheduler = FairScheduler()
    scheduler.start()
    scheduler.notify("x", Flaky())
    async with asyncio.timeout(2):
        while not done:
            await asyncio.sleep(0.005)
    await scheduler.stop()
    assert done == ["second"]


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_final_does_not_wait_behind_other_devices_partials(workers):
    log: list = []
    scheduler = FairScheduler(workers=workers)
    talkers = [Device(f"d{i}", [Priority.PARTIAL] * 5, log) for i in range(4)]
    for device in talkers:
        scheduler.notify(device.name, device)
    ending = Device("ending", [Priority.FINAL], log)
    scheduler.notify(ending.name, ending)
    scheduler.start()
    await drain(scheduler, [*talkers, ending])
    await scheduler.stop()
    assert starts(log)[0] == "ending", log


async def test_a_first_partial_goes_before_other_devices_newer_partials_but_after_finals():
    log: list = []
    scheduler = FairScheduler(workers=1)
    talkers = [Device(f"d{i}", [Priority.PARTIAL] * 3, log) for i in range(4)]
    for device in talkers:
        scheduler.notify(device.name, device)
    newcomer = Device("newcomer", [Priority.FIRST], log)
    scheduler.notify(newcomer.name, newcomer)
    ending = Device("ending", [Priority.FINAL], log)
    scheduler.notify(ending.name, ending)
    scheduler.start()
    await drain(scheduler, [*talkers, newcomer, ending])
    await scheduler.stop()
    assert starts(log)[:2] == ["ending", "newcomer"], log


async def test_a_device_promoted_to_a_final_leaves_the_partial_queue():
    log: list = []
    scheduler = FairScheduler(workers=1)
    talkers = [Device(f"d{i}", [Priority.PARTIAL] * 2, log) for i in range(3)]
    late = Device("late", [Priority.PARTIAL], log)
    for device in [*talkers, late]:
        scheduler.notify(device.name, device)
    late.jobs.append(Priority.FINAL)  # its speaker stopped: the final is due now
    scheduler.notify(late.name, late)
    scheduler.start()
    await drain(scheduler, [*talkers, late])
    await scheduler.stop()
    order = starts(log)
    assert order[0] == "late", "its final first"
    assert order.index("late", 1) == 4, f"then its partial waits its turn at the back like everyone's: {order}"
    assert scheduler.queued == 0


async def test_a_final_runs_beside_the_devices_own_partial_on_the_other_worker():
    log: list = []
    scheduler = FairScheduler(workers=2)
    speaker = Device("speaker", [Priority.PARTIAL], log, seconds=0.3)
    scheduler.start()
    scheduler.notify(speaker.name, speaker)
    await asyncio.sleep(0.05)  # its partial is running
    speaker.jobs += [Priority.FINAL, Priority.PARTIAL]  # the speaker paused (final due) and a partial is wanted too
    speaker.seconds = 0.01
    scheduler.notify(speaker.name, speaker)
    await drain(scheduler, [speaker])
    await scheduler.stop()
    # The final starts and ends while the long partial runs; the second partial waits for the first.
    assert log[:3] == [("start", "speaker", Priority.PARTIAL), ("start", "speaker", Priority.FINAL), ("end", "speaker", Priority.FINAL)]
    assert log[3] == ("end", "speaker", Priority.PARTIAL)
    assert speaker.most_in_flight == 2


async def test_with_one_worker_a_final_waits_for_the_devices_own_partial():
    log: list = []
    scheduler = FairScheduler(workers=1)
    speaker = Device("speaker", [Priority.PARTIAL], log, seconds=0.1)
    scheduler.start()
    scheduler.notify(speaker.name, speaker)
    await asyncio.sleep(0.02)
    speaker.jobs.append(Priority.FINAL)
    scheduler.notify(speaker.name, speaker)
    await drain(scheduler, [speaker])
    await scheduler.stop()
    partial, final = Priority.PARTIAL, Priority.FINAL
    assert [(k, p) for k, _, p in log] == [("start", partial), ("end", partial), ("start", final), ("end", final)]


async def test_never_two_finals_of_one_device_at_once_and_other_devices_keep_the_second_worker():
    log: list = []
    scheduler = FairScheduler(workers=2)
    speaker = Device("speaker", [Priority.FINAL], log, seconds=0.1)
    other = Device("other", [Priority.PARTIAL] * 3, log, seconds=0.02)
    scheduler.start()
    scheduler.notify(speaker.name, speaker)
    await asyncio.sleep(0.01)
    speaker.jobs.append(Priority.FINAL)  # a second utterance ended while the first final runs
    scheduler.notify(speaker.name, speaker)
    scheduler.notify(other.name, other)
    await drain(scheduler, [speaker, other])
    await scheduler.stop()
    assert speaker.most_in_flight == 1
    # The other device ran its partials on the free worker while the speaker's first final ran.
    first_end = log.index(("end", "speaker", Priority.FINAL))
    assert [e for e in log[:first_end] if e[1] == "other" and e[0] == "end"], log


async def test_a_forgotten_device_gets_no_more_turns():
    log: list = []
    scheduler = FairScheduler(workers=1)
    busy = Device("busy", [Priority.PARTIAL] * 3, log, seconds=0.02)
    gone = Device("gone", [Priority.PARTIAL] * 3, log)
    scheduler.notify(busy.name, busy)
    scheduler.notify(gone.name, gone)
    scheduler.forget(gone.name)
    scheduler.start()
    await drain(scheduler, [busy])
    await scheduler.stop()
    assert "gone" not in starts(log)
    assert scheduler.queued == 0
    assert scheduler.running == 0


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        FairScheduler(workers=0)
