"""The photos the glasses took recently, so the page can draw labels over them.

Kept in memory, bounded, and served only as JPEG or PNG: the content type
is never taken from anywhere else, so nothing the page loads from here can
be HTML or script.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

PHOTO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
CONTENT_TYPES = frozenset({"image/jpeg", "image/png"})


class InvalidPhoto(ValueError):
    pass


@dataclass(frozen=True)
class Photo:
    content_type: str
    data: bytes


class PhotoAlbum:
    def __init__(self, capacity: int = 16, max_bytes: int = 16 << 20) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._photos: OrderedDict[str, Photo] = OrderedDict()

    def add(self, photo_id: str, content_type: str, data: bytes) -> None:
        if not PHOTO_ID.fullmatch(photo_id):
            raise InvalidPhoto(f"invalid photo id {photo_id!r}")
        if content_type not in CONTENT_TYPES:
            raise InvalidPhoto(f"photo {photo_id}: content type {content_type!r} is not one of {sorted(CONTENT_TYPES)}")
        if len(data) > self.max_bytes:
            raise InvalidPhoto(f"photo {photo_id}: {len(data)} bytes is over {self.max_bytes}")
        self._photos.pop(photo_id, None)
        self._photos[photo_id] = Photo(content_type, bytes(data))
        while len(self._photos) > self.capacity:
            self._photos.popitem(last=False)

    def get(self, photo_id: str) -> Photo | None:
        return self._photos.get(photo_id)

    def __len__(self) -> int:
        return len(self._photos)
