"""`sightline photos`: a device's photo library (list, search, show, delete).

Asks the vision service on the device's request subjects
(glasses.<device>.rpc.vision.<method>) as the hub's admin, as the other
commands do; `--json` prints the records for machines.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Annotated, TypeVar

import nats.errors
import typer
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from rich.table import Table
from sightline.v1.vision_pb2 import (
    DeletePhotoRequest,
    DeletePhotoResponse,
    GetPhotoRequest,
    GetPhotoResponse,
    PhotoRecord,
    PhotoTreatment,
    SearchPhotosRequest,
    SearchPhotosResponse,
)
from sightline_runtime import subjects
from sightline_runtime.replies import ERROR_CODE_HEADER, ERROR_HEADER
from sightline_runtime.subjects import InvalidDeviceId

from sightline_cli.console import DEFAULT_STATE, Creds, Server, StateDir, connect_hub, fail, out

app = typer.Typer(help="Browse and search a device's photo library.", no_args_is_help=True)

MAX_LIMIT = 100

Response = TypeVar("Response", bound=Message)

Device = Annotated[str, typer.Option("--device", "-d", help="Device id whose photos to read.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (one object) instead of a table.")]
Tags = Annotated[
    list[str] | None, typer.Option("--tag", "-t", help="Only photos with this tag (repeat for several: all must be on the photo).")
]
Since = Annotated[str | None, typer.Option(help="Taken at or after: ISO 8601 (local time unless it says) or an age like 90m, 12h, 7d.")]
Until = Annotated[str | None, typer.Option(help="Taken at or before: same forms as --since.")]
Limit = Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="Photos per page.")]
Offset = Annotated[int, typer.Option(min=0, help="Skip this many matches (paging).")]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the vision service.")]

_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(value: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """An aware datetime from ISO 8601 (naive = local time) or an age ("7d" = seven days ago)."""
    now = now or dt.datetime.now(dt.UTC)
    text = value.strip().lower()
    if text == "now":
        return now
    if age := _AGE.fullmatch(text):
        return now - dt.timedelta(**{_AGE_UNITS[age.group(2)]: float(age.group(1))})
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither an ISO 8601 time nor an age like 90m, 12h, 7d") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _device(device: str) -> str:
    try:
        return subjects.check_device_id(device)
    except InvalidDeviceId as exc:
        raise fail(str(exc), 2) from None


async def _ask(
    server: str | None,
    state_dir: Path,
    creds: Path | None,
    device: str,
    method: str,
    request: Message,
    kind: type[Response],
    wait_s: float,
) -> Response:
    subject = subjects.device_request(device, "vision", method)
    nc = await connect_hub(server, state_dir, creds)
    try:
        reply = await nc.request(subject, request.SerializeToString(), timeout=wait_s)
    except nats.errors.NoRespondersError:
        raise fail(f"the vision service is not answering (no responders on {subject}): is it running? try `sightline status`") from None
    except (TimeoutError, nats.errors.TimeoutError):
        raise fail(f"the vision service did not answer within {wait_s:g} s ({subject})") from None
    finally:
        await nc.drain()
    headers = reply.headers or {}
    if ERROR_CODE_HEADER in headers:
        raise fail(
            f"vision refused the request ({headers[ERROR_CODE_HEADER]}): {headers.get(ERROR_HEADER, '')}",
            2 if headers[ERROR_CODE_HEADER] in ("400", "403") else 1,
        )
    try:
        return kind.FromString(reply.data)
    except DecodeError:
        raise fail(f"vision sent a reply that is not a {kind.DESCRIPTOR.name}") from None


def _request(server, state_dir, creds, device, method, request, kind, timeout):
    return asyncio.run(_ask(server, state_dir, creds, _device(device), method, request, kind, timeout))


def record_json(record: PhotoRecord) -> dict:
    return json_format.MessageToDict(record, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def _when(record: PhotoRecord) -> str:
    return record.captured_at.ToDatetime(tzinfo=dt.UTC).astimezone().isoformat(timespec="seconds")


def _treatment(value: int) -> str:
    try:
        return PhotoTreatment.Name(value).removeprefix("PHOTO_TREATMENT_").lower().replace("_", " ")
    except ValueError:
        return str(value)


def _excerpt(record: PhotoRecord, width: int = 60) -> str:
    text = " / ".join(region.text for region in record.text_regions)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_page(response: SearchPhotosResponse, *, offset: int, title: str, ranked: bool) -> None:
    table = Table("photo", "taken", "size", "tags", "text", *(["score"] if ranked else []), title=title)
    for record in response.photos:
        tags = ", ".join(tag.label for tag in record.tags[:3])
        row = [record.photo_id, _when(record), f"{record.width}x{record.height}", tags, _excerpt(record)]
        table.add_row(*row, *([f"{record.score:.3f}"] if ranked else []))
    out.print(table)
    shown = len(response.photos)
    if shown:
        out.print(f"{offset + 1}-{offset + shown} of {response.match_count}", markup=False)
    else:
        out.print(f"no photos ({response.match_count} match)" if response.match_count else "no photos match", markup=False)


def _search(query: str, device: str, tags, since, until, limit, offset, as_json, server, creds, state_dir, timeout, title: str) -> None:
    request = SearchPhotosRequest(device_id=device, query=query, tags=tags or [], limit=limit, offset=offset)
    if since is not None:
        request.since.FromDatetime(parse_moment(since))
    if until is not None:
        request.until.FromDatetime(parse_moment(until))
    response = _request(server, state_dir, creds, device, "search_photos", request, SearchPhotosResponse, timeout)
    if as_json:
        typer.echo(
            json.dumps({"total": response.match_count, "photos": [record_json(r) for r in response.photos]}, ensure_ascii=False, indent=2)
        )
        return
    render_page(response, offset=offset, title=title, ranked=bool(query.strip()))


@app.command("list")
def photos_list(
    device: Device,
    tag: Tags = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 20,
    offset: Offset = 0,
    as_json: Json = False,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
    timeout: Timeout = 5.0,
) -> None:
    """A device's photos, newest first."""
    _search("", device, tag, since, until, limit, offset, as_json, server, creds, state_dir, timeout, f"photos of {device}")


@app.command("search")
def photos_search(
    query: Annotated[str, typer.Argument(help="Words or characters in the photo's text or tags (all must match), e.g. 'exit' or '吸烟'.")],
    device: Device,
    tag: Tags = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 20,
    offset: Offset = 0,
    as_json: Json = False,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
    timeout: Timeout = 5.0,
) -> None:
    """A device's photos whose text or tags match, best match first."""
    _search(
        query,
        device,
        tag,
        since,
        until,
        limit,
        offset,
        as_json,
        server,
        creds,
        state_dir,
        timeout,
        f"photos of {device} matching {query!r}",
    )


@app.command("show")
def photos_show(
    photo_id: Annotated[str, typer.Argument(help="Photo id.")],
    device: Device,
    as_json: Json = False,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
    timeout: Timeout = 5.0,
) -> None:
    """Everything the library knows of one photo: text regions, tags, codes."""
    response = _request(
        server, state_dir, creds, device, "get_photo", GetPhotoRequest(device_id=device, photo_id=photo_id), GetPhotoResponse, timeout
    )
    if not response.HasField("photo"):
        raise fail(f"{device} has no photo {photo_id!r}")
    record = response.photo
    if as_json:
        typer.echo(json.dumps(record_json(record), ensure_ascii=False, indent=2))
        return
    out.print(f"[bold]{record.photo_id}[/bold] of {record.device_id}, taken {_when(record)}")
    out.print(f"{record.width}x{record.height}, {_treatment(record.treatment)}, stored as {record.object_name}", markup=False)
    regions = Table("text", "language", "confidence", "masked", title="text")
    for region in record.text_regions:
        regions.add_row(region.text, region.language, f"{region.confidence:.2f}", "yes" if region.masked else "")
    tags = Table("tag", "score", "vocabulary", title="tags")
    for tag in record.tags:
        tags.add_row(tag.label, f"{tag.score:.2f}", tag.vocabulary)
    codes = Table("format", "text", title="codes")
    for code in record.codes:
        codes.add_row(code.format, code.text)
    for part, rows in ((regions, record.text_regions), (tags, record.tags), (codes, record.codes)):
        if rows:
            out.print(part)


@app.command("delete")
def photos_delete(
    photo_id: Annotated[str, typer.Argument(help="Photo id.")],
    device: Device,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    server: Server = None,
    creds: Creds = None,
    state_dir: StateDir = DEFAULT_STATE,
    timeout: Timeout = 5.0,
) -> None:
    """Delete a photo: the stored photo and its library entries."""
    if not yes and not typer.confirm(f"delete photo {photo_id} of {device}?"):
        raise typer.Exit(1)
    request = DeletePhotoRequest(device_id=device, photo_id=photo_id)
    response = _request(server, state_dir, creds, device, "delete_photo", request, DeletePhotoResponse, timeout)
    if not response.deleted:
        raise fail(f"{device} has no photo {photo_id!r}")
    out.print(f"photo [bold]{photo_id}[/bold] of {device} deleted")
