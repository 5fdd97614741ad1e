"""Retention of the index: entries go when their photos would (photo_retention_days)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy.exc import SQLAlchemyError

from sightline_vision.library.store import PhotoLibrary

log = logging.getLogger(__name__)


async def expire_forever(library: PhotoLibrary, *, retention_s: float, every_s: float) -> None:
    """Remove entries older than retention_s now and every every_s, until cancelled.
    A failed round (database away) is logged and tried again next time."""
    while True:
        try:
            await library.expire(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=retention_s))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("photo library retention failed, retrying in %.0f s: %s", every_s, exc)
        await asyncio.sleep(every_s)
