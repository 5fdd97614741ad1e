"""Test data of the photo library's tests."""

from __future__ import annotations

import datetime as dt

import nats
import nats.js.errors
from nats.js.object_store import ObjectStore
from sightline.v1.common_pb2 import Box
from sightline.v1.vision_pb2 import TextRegion
from sightline_vision.library import PhotoEntry

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def entry(
    photo_id: str,
    device: str = "dev-a",
    *,
    texts: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    hours: float = 0.0,
    treatment: int = 1,
) -> PhotoEntry:
    """A photo captured `hours` after T0 with these OCR lines and tags."""
    regions = [
        TextRegion(text=t, box=Box(x=0.1, y=0.1 * i, width=0.5, height=0.08), confidence=0.9, language="en") for i, t in enumerate(texts)
    ]
    return PhotoEntry(
        photo_id=photo_id,
        device_id=device,
        captured_at=T0 + dt.timedelta(hours=hours),
        width=1280,
        height=960,
        object_name=f"{device}/{photo_id}",
        tags=[(tag, 0.9 - 0.1 * i) for i, tag in enumerate(tags)],
        text_regions=regions,
        codes=[],
        treatment=treatment,
    )


class PhotoStore:
    """Photos in a real JetStream object store, deleted the way the lead's delete_object does."""

    def __init__(self, nc: nats.NATS, store: ObjectStore) -> None:
        self.nc = nc
        self.store = store

    async def put(self, device: str, photo_id: str) -> None:
        await self.store.put(f"{device}/{photo_id}", b"jpeg bytes")

    async def names(self) -> set[str]:
        try:
            return {info.name for info in await self.store.list(ignore_deletes=True)}
        except nats.js.errors.NotFoundError:  # nats-py: an empty store lists as not found
            return set()

    async def delete(self, device: str, photo_id: str) -> bool:
        try:
            await self.store.delete(f"{device}/{photo_id}")
        except nats.js.errors.NotFoundError:
            return False
        return True
