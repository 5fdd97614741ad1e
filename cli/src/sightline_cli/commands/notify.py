"""`sightline notify`: push a notification to a device through the assistant's
HTTP notification ingress, as a phone companion or a server would.

Where and with which key: --url and --key-file, else SIGHTLINE_NOTIFY_URL and
SIGHTLINE_NOTIFY_KEY, else the local stack's ingress and key as `sightline up`
records them in stack.json (notify_url, notify_key_file). The key is sent as
`authorization: Bearer <key>` and never printed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import httpx
import typer
from sightline_runtime.subjects import InvalidDeviceId, check_device_id

from sightline_cli.console import DEFAULT_STATE, StateDir, fail, out
from sightline_cli.stack import StackInfo, StackNotRunning

PRIORITIES = ("low", "normal", "urgent")
_DELIVERED = {
    "shown": "[green]shown[/green] on the HUD",
    "held": "[yellow]held[/yellow]: do-not-disturb, privacy mode or navigation is on (kept unread; urgent ones go through)",
    "duplicate": "[yellow]duplicate[/yellow]: this source already pushed that dedup key recently (not shown again)",
}


def _local_stack(state_dir: Path) -> StackInfo | None:
    try:
        return StackInfo.read(state_dir)
    except StackNotRunning:
        return None


def ingress_url(url: str | None, state_dir: Path) -> str:
    """--url, else SIGHTLINE_NOTIFY_URL, else the local stack's ingress."""
    found = url or os.environ.get("SIGHTLINE_NOTIFY_URL", "")
    if not found and (stack := _local_stack(state_dir)) is not None:
        found = stack.notify_url
    if not found:
        raise fail("no notification ingress: pass --url (or set SIGHTLINE_NOTIFY_URL), or start the local stack with `sightline up`", 2)
    return found.rstrip("/")


def ingress_key(key_file: Path | None, state_dir: Path) -> str:
    """--key-file, else SIGHTLINE_NOTIFY_KEY, else the local stack's key file."""
    if key_file is None:
        if key := os.environ.get("SIGHTLINE_NOTIFY_KEY", "").strip():
            return key
        stack = _local_stack(state_dir)
        recorded = stack.notify_key_file if stack is not None else ""
        if not recorded:
            raise fail("no API key: pass --key-file or set SIGHTLINE_NOTIFY_KEY", 2)
        key_file = Path(recorded)
    try:
        key = key_file.read_text().strip()
    except OSError as exc:
        raise fail(f"cannot read the API key from {key_file}: {exc.strerror or exc}", 2) from None
    if not key:
        raise fail(f"{key_file} is empty: it should hold the API key", 2)
    return key


def _refusal(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = response.text.strip()[:200]
    return f"the ingress refused the notification ({response.status_code}): {detail or response.reason_phrase}"


def notify(
    device: Annotated[str, typer.Option("--device", "-d", help="Device id to notify.")],
    title: Annotated[str, typer.Option("--title", "-t", help="One line, shown in bold on the card.")],
    body: Annotated[str, typer.Option("--body", "-b", help="The message.")] = "",
    priority: Annotated[
        str, typer.Option(help="low, normal or urgent (urgent shows through do-not-disturb, privacy mode and navigation).")
    ] = "normal",
    dedup_key: Annotated[str, typer.Option(help="Repeats of this key (from this key's source) are shown once.")] = "",
    url: Annotated[str | None, typer.Option(help="The ingress, e.g. http://127.0.0.1:8090; default: the local stack's.")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="File holding the API key; default: SIGHTLINE_NOTIFY_KEY.")] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for the ingress.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ingress's JSON answer.")] = False,
    state_dir: StateDir = DEFAULT_STATE,
) -> None:
    """Push a notification to a device (the assistant's notification ingress)."""
    try:
        check_device_id(device)
    except InvalidDeviceId as exc:
        raise fail(str(exc), 2) from None
    if priority.lower() not in PRIORITIES:
        raise fail(f"--priority is one of {', '.join(PRIORITIES)}, not {priority!r}", 2)
    base = ingress_url(url, state_dir)
    key = ingress_key(key_file, state_dir)
    endpoint = f"{base}/v1/devices/{device}/notifications"
    payload = {"title": title, "body": body, "priority": priority.lower(), "dedup_key": dedup_key}
    try:
        response = httpx.post(endpoint, json=payload, headers={"authorization": f"Bearer {key}"}, timeout=timeout)
    except httpx.TimeoutException:
        raise fail(f"the ingress at {base} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the notification ingress at {base}: {exc}") from None
    if response.status_code != 200:
        # The sender's mistakes (key, scope, device, size) exit 2; the rest may pass on a retry.
        retry = response.headers.get("retry-after")
        hint = f" (retry in {retry} s)" if retry else ""
        raise fail(_refusal(response) + hint, 2 if response.status_code < 429 else 1)
    answer = response.json()
    if as_json:
        out.print_json(json.dumps(answer))
        return
    delivery = _DELIVERED.get(answer.get("delivery", ""), answer.get("delivery", "?"))
    out.print(f"notification [bold]{answer.get('notification_id', '?')}[/bold] to {device}: {delivery}")
