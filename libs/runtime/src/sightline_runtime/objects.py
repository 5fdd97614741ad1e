"""The JetStream object store's wire format, for an upload split between two
writers: the glasses publish only the chunks (`$O.<bucket>.C.<nuid>`, a
subject their permissions can scope to their own nuids), and the hub's
vision service reads them back, verifies them and writes the meta message
itself (`$O.<bucket>.M.<base64url(name)>`, which no permission can scope per
device). The meta is the one nats-py's ObjectStore writes, so `get` reads
the object like any other.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from sightline_runtime.streams import object_store_stream


class ChunksTooLarge(ValueError):
    """The chunks hold more bytes (or pieces) than allowed: not read to the end."""


class ChunksMissing(ValueError):
    """Fewer chunks arrived than the stream said it holds (purged meanwhile)."""


@dataclass(frozen=True)
class Chunks:
    data: bytes
    count: int
    max_chunk_bytes: int


def chunk_subject(bucket: str, nuid: str) -> str:
    return f"$O.{bucket}.C.{nuid}"


def meta_subject(bucket: str, name: str) -> str:
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


def digest(sha256: bytes) -> str:
    """The meta's digest field as nats-py checks it."""
    return "SHA-256=" + base64.urlsafe_b64encode(sha256).decode()


def object_meta(
    bucket: str,
    name: str,
    *,
    nuid: str,
    size: int,
    chunks: int,
    sha256: bytes,
    max_chunk_bytes: int,
    headers: dict[str, list[str]] | None = None,
) -> bytes:
    info: dict[str, Any] = {
        "name": name,
        "bucket": bucket,
        "nuid": nuid,
        "size": size,
        "chunks": chunks,
        "digest": digest(sha256),
        "mtime": dt.datetime.now(dt.UTC).isoformat(),
        "options": {"max_chunk_size": max_chunk_bytes},
    }
    if headers:
        info["headers"] = headers
    return json.dumps(info).encode()


async def chunk_count(js: JetStreamContext, bucket: str, nuid: str) -> int:
    subject = chunk_subject(bucket, nuid)
    info = await js.stream_info(object_store_stream(bucket), subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def read_chunks(js: JetStreamContext, bucket: str, nuid: str, *, max_bytes: int, timeout_s: float = 5.0) -> Chunks:
    """Every chunk of `nuid`, in order. Memory stays within max_bytes plus one
    chunk: past that (or with more chunks than max_bytes could fill) it stops
    and raises ChunksTooLarge."""
    count = await chunk_count(js, bucket, nuid)
    if count > max(max_bytes, 1):
        raise ChunksTooLarge(f"{count} chunks cannot hold at most {max_bytes} bytes")
    if count == 0:
        return Chunks(b"", 0, 0)
    data = bytearray()
    largest = 0
    sub = await js.subscribe(chunk_subject(bucket, nuid), stream=object_store_stream(bucket), ordered_consumer=True)
    try:
        for _ in range(count):
            try:
                msg = await sub.next_msg(timeout=timeout_s)
            except NatsTimeoutError:
                raise ChunksMissing(f"{len(data)} bytes read, the rest of the {count} chunks never came") from None
            data += msg.data
            largest = max(largest, len(msg.data))
            if len(data) > max_bytes:
                raise ChunksTooLarge(f"over {max_bytes} bytes")
    finally:
        await sub.unsubscribe()
    return Chunks(bytes(data), count, largest)


async def stored_meta(js: JetStreamContext, bucket: str, name: str) -> dict[str, Any] | None:
    """The object's current meta, or None (no object, or deleted)."""
    try:
        msg = await js.get_last_msg(object_store_stream(bucket), meta_subject(bucket, name))
    except NotFoundError:
        return None
    meta = json.loads(msg.data)
    return None if meta.get("deleted") else meta


async def write_meta(js: JetStreamContext, bucket: str, name: str, meta: bytes) -> None:
    # Rollup: the object's one meta message, replacing an earlier one.
    headers = {api.Header.ROLLUP: "sub"}
    await js.publish(meta_subject(bucket, name), meta, headers=headers, stream=object_store_stream(bucket))


async def purge_chunks(js: JetStreamContext, bucket: str, nuid: str) -> None:
    await js.purge_stream(object_store_stream(bucket), subject=chunk_subject(bucket, nuid))


async def write_chunks(js: JetStreamContext, bucket: str, nuid: str, data: bytes, *, chunk_bytes: int = 128 * 1024) -> int:
    """Store `data` as the chunks of `nuid` (after purging any there), each
    write acknowledged; returns the number of chunks. The meta that makes
    them an object is written separately (write_meta), last."""
    await purge_chunks(js, bucket, nuid)
    stream, subject = object_store_stream(bucket), chunk_subject(bucket, nuid)
    count = 0
    for start in range(0, len(data), chunk_bytes):
        await js.publish(subject, data[start : start + chunk_bytes], stream=stream)
        count += 1
    return count
