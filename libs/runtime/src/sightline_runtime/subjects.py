"""Subject names. The device id is always a token of its own so that
permissions and partitioning can key on it (see docs/bus.md).

Up-link:   glasses.<device>.up.<kind>      kind: audio, photo, input
Down-link: glasses.<device>.down.display
Domain:    <domain>.<event>.<device>       e.g. asr.final.<device>
"""

from __future__ import annotations

import re

DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
UNKNOWN_DEVICE_TOKEN = "_"  # noqa: S105 - a subject token, not a secret


class InvalidDeviceId(ValueError):
    pass


def check_device_id(device_id: str) -> str:
    """Return device_id if it is a safe single subject token, else raise."""
    if not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise InvalidDeviceId(f"invalid device id {device_id!r}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit")
    return device_id


# --- up-link (glasses -> hub) ---
def up(device_id: str, kind: str) -> str:
    return f"glasses.{check_device_id(device_id)}.up.{kind}"


def up_audio(device_id: str) -> str:
    return up(device_id, "audio")


def up_photo(device_id: str) -> str:
    return up(device_id, "photo")


def up_input(device_id: str) -> str:
    return up(device_id, "input")


UP_AUDIO_ALL = "glasses.*.up.audio"
UP_PHOTO_ALL = "glasses.*.up.photo"
UP_INPUT_ALL = "glasses.*.up.input"


# --- down-link (hub -> glasses) ---
def down_display(device_id: str) -> str:
    return f"glasses.{check_device_id(device_id)}.down.display"


DOWN_DISPLAY_ALL = "glasses.*.down.display"


def down_command(device_id: str) -> str:
    """Commands for the glasses themselves (take a photo, translation on or off)."""
    return f"glasses.{check_device_id(device_id)}.down.command"


DOWN_COMMAND_ALL = "glasses.*.down.command"


# --- requests a device makes of a service (glasses -> hub, answered) ---
# The device's own token is in the subject, so the hub's permissions decide
# whose data a request may name: a device may publish only under its own.
def device_request(device_id: str, service: str, method: str) -> str:
    return f"glasses.{check_device_id(device_id)}.rpc.{service}.{method}"


def device_request_all(service: str, method: str) -> str:
    return f"glasses.*.rpc.{service}.{method}"


# --- domain events ---
def domain(domain_name: str, event: str, device_id: str) -> str:
    return f"{domain_name}.{event}.{check_device_id(device_id)}"


def domain_all(domain_name: str, event: str) -> str:
    return f"{domain_name}.{event}.*"


# --- operational ---
def errors(service: str, device_id: str | None) -> str:
    token = device_id if device_id and DEVICE_ID_PATTERN.fullmatch(device_id) else UNKNOWN_DEVICE_TOKEN
    return f"errors.{service}.{token}"


def dead_letter(service: str, handler: str) -> str:
    return f"dlq.{service}.{handler}"


def device_token(subject: str) -> str | None:
    """The device id carried by a device-scoped subject, or None.

    glasses.<device>.(up|down|rpc).<...> -> token 1; <domain>.<event>.<device> -> token 2.
    """
    parts = subject.split(".")
    if len(parts) >= 4 and parts[0] == "glasses" and parts[2] in ("up", "down", "rpc"):
        token = parts[1]
    elif len(parts) == 3 and parts[0] not in ("glasses", "dlq", "$JS", "_INBOX"):
        token = parts[2]
    else:
        return None
    return token if DEVICE_ID_PATTERN.fullmatch(token) else None


def subject_matches(subject: str, pattern: str) -> bool:
    """Whether every subject `subject` can stand for is matched by `pattern`
    (NATS wildcards: `*` one token, `>` one or more trailing tokens). A
    concrete subject is matched as NATS matches it; a pattern such as
    `asr.final.*` is contained in `asr.>` but not in `asr.final.a`."""
    tokens, wanted = subject.split("."), pattern.split(".")
    for i, want in enumerate(wanted):
        if want == ">":
            return len(tokens) > i
        if i >= len(tokens):
            return False
        part = tokens[i]
        if part == ">":
            return False
        if want != "*" and (part == "*" or part != want):
            return False
    return len(tokens) == len(wanted)
