"""Which services a `sightline glasses` run needs, and whether they are ready.

Audio frames are core NATS: frames sent before asr subscribes are gone, so
`sightline up` followed at once by `sightline glasses --say` used to lose
the first utterance without a word. The glasses now wait for what their
inputs need, asking each service's /readyz (its URL is in the local stack's
stack.json), and when the wait runs out they say which service is not
ready and why, before anything is sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from sightline_cli.stack import ServiceEntry, StackInfo

PROBE_TIMEOUT_S = 2.0
POLL_S = 0.25


@dataclass(frozen=True)
class Need:
    """Why an input needs a service: the flag, for the messages; `optional`
    ones are waited for only when the stack runs them."""

    flag: str
    optional: bool = False
    # What goes missing without it (said when an optional service is not in the stack).
    without: str = ""


def needed_services(*, texts: bool, speech: bool, translate: bool, photos: bool) -> dict[str, Need]:
    """service -> why these inputs need it, in the order they are waited for."""
    needs: dict[str, Need] = {}
    if speech:
        needs["asr"] = Need("--say")
    if photos:
        needs["vision"] = Need("--photo")
    if translate and (speech or photos):
        needs["translation"] = Need("--to")
    if texts or speech or photos:
        # Every reply reaches the HUD through the overlay.
        needs["overlay"] = Need(next(flag for flag, used in (("--say", speech), ("--photo", photos), ("--text", texts)) if used))
    if speech:
        needs["assistant"] = Need("--say", optional=True, without='spoken commands ("Hey Sightline, …") go unanswered')
    return needs


def in_stack(needs: dict[str, Need], info: StackInfo) -> tuple[dict[str, Need], dict[str, Need]]:
    """(the needs to wait for, the optional ones this stack does not run)."""
    absent = {name: need for name, need in needs.items() if need.optional and name not in info.services}
    return {name: need for name, need in needs.items() if name not in absent}, absent


@dataclass(frozen=True)
class ServiceState:
    service: str
    ready: bool
    reason: str = ""
    # False when waiting cannot help: the stack does not run this service at all.
    may_come: bool = True
    log_file: str = ""

    def describe(self) -> str:
        return f"{self.service} ({self.reason})" if self.reason else self.service


async def probe(client: httpx.AsyncClient, service: str, entry: ServiceEntry | None) -> ServiceState:
    if entry is None:
        return ServiceState(service, False, "not part of this stack", may_come=False)
    if entry.state == "backoff":
        return ServiceState(service, False, f"exited; the stack restarts it (restart #{entry.restarts + 1})", log_file=entry.log_file)
    reason = await _ask(client, entry)
    return ServiceState(service, reason is None, reason or "", log_file=entry.log_file)


async def _ask(client: httpx.AsyncClient, entry: ServiceEntry) -> str | None:
    """None when /readyz says ready, else why not."""
    try:
        response = await client.get(entry.health_url, timeout=PROBE_TIMEOUT_S)
    except httpx.ConnectError:
        return f"starting: not listening on {entry.http_url} yet"
    except httpx.TimeoutException:
        return f"/readyz did not answer in {PROBE_TIMEOUT_S:g}s"
    except httpx.HTTPError as exc:
        return f"/readyz failed: {exc}"
    return None if response.status_code == 200 else _not_ready_reason(response)


def _not_ready_reason(response: httpx.Response) -> str:
    # The body names the checks that fail: {"status": "not ready", "checks": {"broker": true, "models": false}}.
    try:
        body = response.json()
        failing = sorted(name for name, ok in body.get("checks", {}).items() if not ok)
    except (ValueError, AttributeError):
        return f"/readyz answered {response.status_code}"
    if failing:
        return f"not ready: failing {'check' if len(failing) == 1 else 'checks'} {', '.join(failing)}"
    return f"/readyz answered {response.status_code} ({body.get('status', 'no status')})"


async def check(state_dir: Path, services: list[str]) -> list[ServiceState]:
    """One look at each service, in the order given (raises StackNotRunning when the stack is gone)."""
    info = StackInfo.read(state_dir)
    async with httpx.AsyncClient() as client:
        return list(await asyncio.gather(*(probe(client, name, info.services.get(name)) for name in services)))


async def wait_ready(
    state_dir: Path,
    services: list[str],
    timeout_s: float,
    *,
    on_wait: Callable[[list[ServiceState], float], None] = lambda states, elapsed: None,
) -> list[ServiceState]:
    """Poll until every service is ready or timeout_s passed; returns those not
    ready (empty: all are). `on_wait` gets every look that found some not ready."""
    started = time.monotonic()
    while True:
        states = await check(state_dir, services)
        waiting = [s for s in states if not s.ready]
        elapsed = time.monotonic() - started
        if not waiting or elapsed >= timeout_s or any(not s.may_come for s in waiting):
            return waiting
        on_wait(states, elapsed)
        await asyncio.sleep(min(POLL_S, max(0.0, timeout_s - elapsed)))
