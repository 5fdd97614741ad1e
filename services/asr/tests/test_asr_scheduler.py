"""The fair scheduler: one job per device at a time, round-robin turns, so a
device with endless work cannot starve the others."""

from __future__ import annotations

import asyncio

from sightline_asr.scheduler import FairScheduler


class Device:
    def __init__(self, name: str, jobs: int, log: list[str], running: set[str]) -> None:
        self.name, self.jobs, self.log, self.running = name, jobs, log, running
        self.max_parallel = 0

    @property
    def has_work(self) -> bool:
        return self.jobs > 0

    urgent = False

    def next_job(self):
        if not self.jobs:
            return None
        self.jobs -= 1

        async def job() -> None:
            assert self.name not in self.running, "two inferences of one device in flight"
            self.running.add(self.name)
            await asyncio.sleep(0.001)
            self.log.append(self.name)
            self.running.discard(self.name)

        return job


async def test_a_busy_device_gets_one_turn_per_round_like_everyone_else():
    log: list[str] = []
    running: set[str] = set()
    scheduler = FairScheduler(workers=2)
    scheduler.start()
    hog = Device("hog", 1000, log, running)
    scheduler.notify("hog", hog)
    await asyncio.sleep(0.02)  # the hog has been running alone for a while
    others = [Device(f"d{i}", 3, log, running) for i in range(3)]
    for device in others:
        scheduler.notify(device.name, device)
    async with asyncio.timeout(5):
        while any(d.jobs for d in others):
            await asyncio.sleep(0.005)
    await scheduler.stop()
    start = next(i for i, name in enumerate(log) if name != "hog")
    window = log[start : start + 12]
    # Within the rounds after the others arrived the hog gets about one turn in four, not all.
    assert window.count("hog") <= 6, window
    assert all(window.count(f"d{i}") >= 2 for i in range(3)), window


async def test_a_failing_job_does_not_stop_the_worker():
    done: list[str] = []

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        urgent = False

        @property
        def has_work(self) -> bool:
            return self.calls < 2

        def next_job(self):
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


async def test_a_final_does_not_wait_behind_other_devices_partials():
    log: list[str] = []
    running: set[str] = set()
    scheduler = FairScheduler()
    talkers = [Device(f"d{i}", 5, log, running) for i in range(4)]
    for device in talkers:
        scheduler.notify(device.name, device)
    ending = Device("ending", 1, log, running)
    ending.urgent = True  # its final is due
    scheduler.notify(ending.name, ending)
    scheduler.start()
    async with asyncio.timeout(5):
        while any(d.jobs for d in [*talkers, ending]):
            await asyncio.sleep(0.005)
    await scheduler.stop()
    assert log[0] == "ending", log
