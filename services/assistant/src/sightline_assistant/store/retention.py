"""Retention of the store: lines and notes go when their settings say."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy.exc import SQLAlchemyError

from sightline_assistant.store.store import AssistantStore

log = logging.getLogger(__name__)


async def expire_forever(store: AssistantStore, *, every_s: float) -> None:
    """store.expire now and every every_s, until cancelled. A failed round
    (database away) is logged and tried again next time."""
    while True:
        try:
            await store.expire(dt.datetime.now(dt.UTC))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("assistant store retention failed, retrying in %.0f s: %s", every_s, exc)
        await asyncio.sleep(every_s)
