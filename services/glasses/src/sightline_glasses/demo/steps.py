"""The kinds of demo step. Adding one = one decorated function here; adding a
step to the demo = a few lines of script.yaml.

A step function gets the context and the step's fields (already checked
against `required` / `optional`); `check` runs at load time so a bad script
fails before the demo starts, not a minute into it.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from google.protobuf.json_format import ParseDict, ParseError
from nats.aio.client import Client
from sightline.v1.display_pb2 import DisplayUpdate
from sightline.v1.input_pb2 import Button, ButtonPress, DeviceInput
from sightline_runtime import subjects
from sightline_runtime.events import HybridClock, event_headers, new_meta

from sightline_glasses.demo.speech import SpeechUnavailable, synthesise, voice_for
from sightline_glasses.hud.layout import default_bounds
from sightline_glasses.hud.photos import CONTENT_TYPES

if TYPE_CHECKING:
    from sightline_glasses.agent import GlassesAgent

log = logging.getLogger(__name__)

# Producer name of the updates `show` steps publish.
DIRECTOR = "demo"
# Fields every step may carry.
COMMON_FIELDS = frozenset({"do", "wait_s", "note"})


class ScriptError(ValueError):
    """The script is wrong: raised at load time, with the step it is about."""


class StepUnavailable(RuntimeError):
    """This agent cannot do the step yet (a capability still being built)."""


class StepFailed(RuntimeError):
    """The step ran and the stack refused it (logged; the demo goes on)."""


@dataclass(frozen=True)
class NotifyIngress:
    """Where `notify` steps push: the assistant's notification ingress (the
    local stack's is stack.json's notify_url, its key in notify_key_file)."""

    url: str
    key_file: Path


@dataclass
class DemoContext:
    agent: GlassesAgent
    # Publishes `show` updates on the device's down-link, as a service would
    # (the device itself may not publish there once permissions are on).
    director: Client
    base_dir: Path
    versions: HybridClock = field(default_factory=HybridClock)
    # None: the demo was given no ingress, and `notify` steps are skipped.
    notify: NotifyIngress | None = None


def seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScriptError(f"{what} must be a number of seconds >= 0, not {value!r}")
    return float(value)


StepFn = Callable[[DemoContext, dict[str, Any]], Awaitable[None]]
CheckFn = Callable[[dict[str, Any], Path], None]


@dataclass(frozen=True)
class StepKind:
    run: StepFn
    required: frozenset[str]
    optional: frozenset[str]
    check: CheckFn | None = None


STEPS: dict[str, StepKind] = {}


def step(kind: str, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = (), check: CheckFn | None = None):
    def register(fn: StepFn) -> StepFn:
        STEPS[kind] = StepKind(fn, frozenset(required), frozenset(optional), check)
        return fn

    return register


# --- text: typed input, shown by the overlay as a panel ---
@step("text", required=("text",), optional=("language",))
async def _text(ctx: DemoContext, spec: dict[str, Any]) -> None:
    await ctx.agent.send_text(str(spec["text"]), language=str(spec.get("language", "")))


# --- say: speech synthesised offline, played into the microphone up-link ---
@step("say", required=("text",), optional=("language", "target_language", "voice"))
async def _say(ctx: DemoContext, spec: dict[str, Any]) -> None:
    language = str(spec.get("language", "en"))
    with tempfile.TemporaryDirectory(prefix="sightline-say-") as folder:
        try:
            wav = await synthesise(str(spec["text"]), Path(folder) / "say.wav", voice=str(spec.get("voice") or voice_for(language)))
        except SpeechUnavailable as exc:
            raise StepUnavailable(str(exc)) from None
        # At microphone pace, as the glasses would send it.
        await ctx.agent.say(wav, source_language=language, target_language=str(spec.get("target_language", "")))


# --- press: a button on the frame ---
BUTTONS = {"action": Button.BUTTON_ACTION, "capture": Button.BUTTON_CAPTURE, "touchpad": Button.BUTTON_TOUCHPAD}


def _check_press(spec: dict[str, Any], base_dir: Path) -> None:
    if spec.get("button", "action") not in BUTTONS:
        raise ScriptError(f"press's button must be one of {', '.join(BUTTONS)}, not {spec['button']!r}")
    if not isinstance(spec.get("long_press", False), bool):
        raise ScriptError(f"press's long_press must be true or false, not {spec['long_press']!r}")


@step("press", optional=("button", "long_press"), check=_check_press)
async def _press(ctx: DemoContext, spec: dict[str, Any]) -> None:
    press = ButtonPress(button=BUTTONS[spec.get("button", "action")], long_press=bool(spec.get("long_press", False)))
    # The agent's own meta: its device id and its per-device input sequence.
    await ctx.agent.send_input(DeviceInput(meta=ctx.agent._meta(), button=press))


# --- photo: the camera takes a picture ---
def _content_type(path: Path) -> str:
    return {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}.get(path.suffix.lower(), "")


def _check_photo(spec: dict[str, Any], base_dir: Path) -> None:
    path = base_dir / str(spec["file"])
    if not path.is_file():
        raise ScriptError(f"photo file {path} does not exist")
    if _content_type(path) not in CONTENT_TYPES:
        raise ScriptError(f"photo file {path} is not a .jpg, .jpeg or .png")


@step("photo", required=("file",), optional=("photo_id", "target_language"), check=_check_photo)
async def _photo(ctx: DemoContext, spec: dict[str, Any]) -> None:
    path = ctx.base_dir / str(spec["file"])
    data = await asyncio.to_thread(path.read_bytes)
    content_type = _content_type(path)
    photo_id = str(spec.get("photo_id") or path.stem)
    capture = getattr(ctx.agent, "send_photo", None)
    if capture is None:
        # The glasses still keep what they shot, so the HUD can draw labels over it.
        ctx.agent.photo_taken(photo_id, content_type, data)
        raise StepUnavailable("this GlassesAgent cannot send photos yet; shown on the HUD only")
    # send_photo shows the photo locally too (GlassesAgent.photo_taken).
    await capture(data, content_type=content_type, photo_id=photo_id, target_language=str(spec.get("target_language", "")))


# --- show: a display update, as a service would send it ---
def build_update(spec: dict[str, Any]) -> DisplayUpdate:
    """The step's `update` (protobuf JSON: snake_case or camelCase) as a message; meta and version come later."""
    update = DisplayUpdate()
    try:
        ParseDict(spec["update"], update)
    except (ParseError, TypeError) as exc:
        raise ScriptError(f"update is not a DisplayUpdate: {exc}") from None
    if not update.region:
        raise ScriptError("update needs a region")
    if update.WhichOneof("content") is None:
        raise ScriptError("update needs content: caption, labels, card, panel, status or clear")
    if "expires_in_s" in spec and update.WhichOneof("content") != "card":
        raise ScriptError("expires_in_s is for card updates")
    return update


def _check_show(spec: dict[str, Any], base_dir: Path) -> None:
    build_update(spec)
    if "expires_in_s" in spec:
        seconds(spec["expires_in_s"], "expires_in_s")


@step("show", required=("update",), optional=("expires_in_s",), check=_check_show)
async def _show(ctx: DemoContext, spec: dict[str, Any]) -> None:
    update = build_update(spec)
    device = ctx.agent.device_id
    if not update.HasField("bounds"):
        update.bounds.CopyFrom(default_bounds(update.region))
    if "expires_in_s" in spec:
        update.card.expires_at.FromNanoseconds(time.time_ns() + int(float(spec["expires_in_s"]) * 1e9))
    update.region_version = ctx.versions.next((device, update.region))
    update.meta.CopyFrom(new_meta(device, DIRECTOR, seq=update.region_version))
    await ctx.director.publish(subjects.down_display(device), update.SerializeToString(), headers=event_headers(update))


# --- notify: a phone companion pushes a notification through the assistant's ingress ---
NOTIFY_PRIORITIES = ("low", "normal", "urgent")
NOTIFY_TIMEOUT_S = 10.0


def _check_notify(spec: dict[str, Any], base_dir: Path) -> None:
    if not isinstance(spec["title"], str) or not spec["title"].strip():
        raise ScriptError("notify needs a non-empty title")
    for name in ("body", "dedup_key"):
        if name in spec and not isinstance(spec[name], str):
            raise ScriptError(f"notify's {name} must be text, not {spec[name]!r}")
    if spec.get("priority", "normal") not in NOTIFY_PRIORITIES:
        raise ScriptError(f"notify's priority must be one of {', '.join(NOTIFY_PRIORITIES)}, not {spec['priority']!r}")


@step("notify", required=("title",), optional=("body", "priority", "dedup_key"), check=_check_notify)
async def _notify(ctx: DemoContext, spec: dict[str, Any]) -> None:
    if ctx.notify is None:
        raise StepUnavailable("no notification ingress was given to the demo (the stack's notify_url and notify_key_file)")
    key = (await asyncio.to_thread(ctx.notify.key_file.read_text, encoding="utf-8")).strip()
    body = {name: spec[name] for name in ("title", "body", "priority", "dedup_key") if name in spec}
    url = f"{ctx.notify.url.rstrip('/')}/v1/devices/{ctx.agent.device_id}/notifications"
    async with httpx.AsyncClient(timeout=NOTIFY_TIMEOUT_S) as client:
        response = await client.post(url, json=body, headers={"authorization": f"Bearer {key}"})
    if response.status_code != 200:
        # The ingress says why as JSON {"error", "detail"}; the key itself is never logged.
        raise StepFailed(f"the notification ingress answered {response.status_code}: {response.text[:200]}")
    # "shown" draws the card; "held" (do-not-disturb, navigating) keeps it for "read my notifications".
    log.info("demo notification %s", response.json().get("delivery", "?"))


# --- wait: a pause of its own ---
def _check_wait(spec: dict[str, Any], base_dir: Path) -> None:
    seconds(spec["seconds"], "seconds")


@step("wait", required=("seconds",), check=_check_wait)
async def _wait(ctx: DemoContext, spec: dict[str, Any]) -> None:
    await asyncio.sleep(float(spec["seconds"]))
