"""A search, checked before it reaches the database: every limit a caller
can hit is here, with the message the caller gets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sightline_runtime.subjects import InvalidDeviceId, check_device_id

from sightline_vision.library.text import Term, normalise_tag, query_terms

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Deep pages cost a scan of everything before them; nobody pages a photo library that far.
MAX_OFFSET = 10_000
MAX_QUERY_CHARS = 256
MAX_QUERY_TERMS = 16
MAX_TAGS = 10
MAX_TAG_CHARS = 200
MAX_PHOTO_ID_CHARS = 128


class LibraryQueryError(ValueError):
    """A request the library refuses (bad arguments); the message says why."""


def check_device(device_id: str) -> str:
    try:
        return check_device_id(device_id)
    except InvalidDeviceId as exc:
        raise LibraryQueryError(str(exc)) from None


def check_photo_id(photo_id: str) -> str:
    if not photo_id or len(photo_id) > MAX_PHOTO_ID_CHARS or not photo_id.isprintable():
        raise LibraryQueryError(f"invalid photo id {photo_id[:40]!r}: 1-{MAX_PHOTO_ID_CHARS} printable characters")
    return photo_id


def _aware(name: str, moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise LibraryQueryError(f"{name} must carry a time zone")
    return moment


@dataclass(frozen=True)
class SearchQuery:
    device_id: str
    terms: list[Term]
    tags: list[str]
    since: dt.datetime | None
    until: dt.datetime | None
    limit: int
    offset: int

    @classmethod
    def build(
        cls,
        device_id: str,
        *,
        query: str = "",
        tags: Sequence[str] = (),
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> SearchQuery:
        if len(query) > MAX_QUERY_CHARS:
            raise LibraryQueryError(f"query too long: {len(query)} characters, at most {MAX_QUERY_CHARS}")
        terms = query_terms(query)
        if len(terms) > MAX_QUERY_TERMS:
            raise LibraryQueryError(f"query has {len(terms)} terms, at most {MAX_QUERY_TERMS}")
        if query.strip() and not terms:
            raise LibraryQueryError(f"query {query!r} has no letters or digits to search for")
        if isinstance(tags, str):
            raise LibraryQueryError("tags is a list of tags, not one string")
        if len(tags) > MAX_TAGS:
            raise LibraryQueryError(f"{len(tags)} tags, at most {MAX_TAGS}")
        normalised = list(dict.fromkeys(normalise_tag(tag) for tag in tags))
        if any(not tag or len(tag) > MAX_TAG_CHARS for tag in normalised):
            raise LibraryQueryError(f"every tag needs 1-{MAX_TAG_CHARS} characters")
        since, until = _aware("since", since), _aware("until", until)
        if since is not None and until is not None and since > until:
            raise LibraryQueryError(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
        if not 1 <= limit <= MAX_LIMIT:
            raise LibraryQueryError(f"limit {limit} is out of range 1-{MAX_LIMIT}")
        if not 0 <= offset <= MAX_OFFSET:
            raise LibraryQueryError(f"offset {offset} is out of range 0-{MAX_OFFSET}")
        return cls(check_device(device_id), terms, normalised, since, until, limit, offset)
