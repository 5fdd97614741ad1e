"""The photo library: every analysed photo of a device, found by the text in
it, its tags and when it was taken (docs/photo-library.md).

PhotoLibrary is the store (SQLite FTS5 embedded, PostgreSQL in deployments,
migrated at open); PhotoRequests answers the per-device bus requests;
sightline_vision.library_grpc serves the same as gRPC.
"""

from __future__ import annotations

from sightline_vision.library.entry import PhotoEntry
from sightline_vision.library.query import MAX_LIMIT, LibraryQueryError
from sightline_vision.library.requests import DELETE_PHOTO, GET_PHOTO, SEARCH_PHOTOS, PhotoRequests
from sightline_vision.library.retention import expire_forever
from sightline_vision.library.settings import LibrarySettings
from sightline_vision.library.store import PhotoLibrary

__all__ = [
    "DELETE_PHOTO",
    "GET_PHOTO",
    "MAX_LIMIT",
    "SEARCH_PHOTOS",
    "LibraryQueryError",
    "LibrarySettings",
    "PhotoEntry",
    "PhotoLibrary",
    "PhotoRequests",
    "expire_forever",
]
