"""The bus surfaces as a Markdown page (docs/bus.md): who publishes and
subscribes what, which streams each service owns, and each service user's
NATS permissions, all derived from the declarations. `sightline bus table
--write` regenerates it; a test fails when the page drifts."""

from __future__ import annotations

from collections.abc import Sequence

from sightline_runtime import auth, privacy, subjects
from sightline_runtime.streams import PLATFORM_STREAMS, StreamSpec
from sightline_runtime.surface import BusSurface, Subscribe

HEADER = """# The bus, service by service

<!-- Generated from each service's bus.py by `sightline bus table --write docs/bus.md`; do not edit by hand
     (tests/contract/test_bus_surface.py fails when this page and the declarations differ). -->

Every service declares its bus surface once, in `services/<name>/src/sightline_<name>/bus.py`. The runtime
derives from it the streams and durable consumers the service creates at start-up and the permissions of its
NATS user (the local stack, `sightline k8s auth` and the nats-auth component all issue the same); this page is
derived from it too.
"""


def _code(values: Sequence[str]) -> str:
    return "<br>".join(f"`{v}`" for v in values) if values else "—"


def _days(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{seconds / 86400:g} d"
    return f"{seconds / 3600:g} h"


def _stream_row(owner: str, spec: StreamSpec, retention: str) -> str:
    return f"| `{spec.name}` | {owner} | {_code(spec.subjects)} | {retention} | {spec.description} |"


Rows = dict[str, dict[str, list[str]]]


def _row(rows: Rows, subject: str, event: str) -> dict[str, list[str]]:
    return rows.setdefault(subject, {"event": [event], "pub": [], "sub": []})


def _rpc(request: type, response: type) -> str:
    return f"{request.DESCRIPTOR.name} → {response.DESCRIPTOR.name}"


def _add_publishers(rows: Rows, surface: BusSurface) -> None:
    for pub in surface.publishes:
        where = f"{surface.service} → `{pub.stream.name}`" if pub.stream else f"{surface.service} (core)"
        _row(rows, pub.subject, pub.event.DESCRIPTOR.name)["pub"].append(where)
    for serve in surface.serves:
        _row(rows, serve.subject, _rpc(serve.request, serve.response))["sub"].append(f"{surface.service} (serves)")
    for call in surface.calls:
        _row(rows, call.subject, _rpc(call.request, call.response))["pub"].append(f"{surface.service} (calls)")
    # Every instance beats its presence (sightline_runtime.presence).
    _row(rows, f"presence.{surface.service}", "ServicePresence")["pub"].append(f"{surface.service} (core, every instance)")


def _how(sub: Subscribe) -> str:
    consumer = sub.spec.consumer
    how = f"durable `{consumer.durable}`" if consumer else "core"
    if sub.spec.dedup:
        how += ", dedup"
    if sub.spec.sensor is not None:
        how += f", {sub.spec.sensor.value}"
    return how


def _add_subscribers(rows: Rows, surface: BusSurface) -> None:
    for watched in surface.watches:
        _row(rows, f"presence.{watched}", "ServicePresence")["sub"].append(f"{surface.service} (presence tracker)")
    for sub in surface.subscribes:
        for subject in sub.permitted_subjects:
            match = next((s for s in rows if subjects.subject_matches(subject, s) or subjects.subject_matches(s, subject)), subject)
            label = f"{surface.service}.{sub.name} ({_how(sub)})" + (f" on `{subject}`" if subject != match else "")
            _row(rows, match, sub.spec.message_type.DESCRIPTOR.name)["sub"].append(label)
    if surface.sensors:
        # Derived: a service handling sensor data applies privacy requests itself.
        durable = privacy.privacy_consumer(surface.service).durable
        _row(rows, subjects.UP_INPUT_ALL, "DeviceInput")["sub"].append(f"{surface.service}.privacy_request (durable `{durable}`, derived)")


def subject_table(surfaces: Sequence[BusSurface]) -> list[str]:
    """One row per declared subject: who publishes it, who subscribes it (and how)."""
    rows: Rows = {}
    for surface in surfaces:
        _add_publishers(rows, surface)
    for surface in surfaces:
        _add_subscribers(rows, surface)
    lines = ["| subject | event | published by | subscribed by |", "| --- | --- | --- | --- |"]
    for subject in sorted(rows):
        entry = rows[subject]
        pub = "<br>".join(entry["pub"]) or ("the glasses" if subject.startswith("glasses.") else "clients (glasses, CLI, apps)")
        sub = "<br>".join(entry["sub"]) or "—"
        lines.append(f"| `{subject}` | {entry['event'][0]} | {pub} | {sub} |")
    return lines


def render(surfaces: Sequence[BusSurface]) -> str:
    lines = [HEADER, "## Services", "", "| service | what it does |", "| --- | --- |"]
    lines += [f"| {s.service} | {s.description} |" for s in surfaces]
    lines += ["", "## Subjects", "", *subject_table(surfaces), ""]
    lines += ["## Streams", "", "| stream | owner | subjects | retention | holds |", "| --- | --- | --- | --- | --- |"]
    lines += [_stream_row("the platform (every service)", spec, _days(spec.max_age_s)) for spec in PLATFORM_STREAMS]
    for surface in surfaces:
        for owned in surface.streams:
            retention = "from settings" if owned.retention_s else _days(owned.stream.max_age_s)
            lines.append(_stream_row(surface.service, owned.stream, retention))
    lines += ["", "## Buckets and object stores", "", "| bucket | used by | access |", "| --- | --- | --- |"]
    for surface in surfaces:
        for use in surface.buckets:
            lines.append(f"| KV `{use.bucket.name}` | {surface.service} | {'read, write' if use.writes else 'read'} |")
        for store in surface.object_stores:
            access = ("owns, " if store.owns else "") + ("read, write" if store.writes else "read")
            lines.append(f"| object store `{store.store.name}` | {surface.service} | {access} |")
    lines += [
        "",
        "## Permissions of each service user",
        "",
        "Derived by `sightline_runtime.auth.service_permissions(surface)`; anything not allowed is refused by the hub.",
        "",
        "| service | may publish | may subscribe | replies to requests |",
        "| --- | --- | --- | --- |",
    ]
    for surface in surfaces:
        perms = auth.service_permissions(surface)
        publish = _code(perms.pub_allow) + (f"<br>except {_code(perms.pub_deny)}" if perms.pub_deny else "")
        lines.append(f"| {surface.service} | {publish} | {_code(perms.sub_allow)} | {'yes' if perms.responses else 'no'} |")
    return "\n".join(lines) + "\n"
