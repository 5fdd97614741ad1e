"""Reading what a stream holds, for tests that check what was kept (dead letters, redeliveries)."""

from __future__ import annotations

import asyncio

from nats.js.api import ConsumerConfig, DeliverPolicy


async def read_stream(js, stream: str, subject: str, *, count: int, timeout_s: float = 10.0) -> list:
    """The first `count` messages on `subject` in `stream`, from its start (an ordered consumer)."""
    sub = await js.subscribe(subject, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), ordered_consumer=True)
    got = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(got) < count:
                got.append(await sub.next_msg(timeout=timeout_s))
    finally:
        await sub.unsubscribe()
    return got
