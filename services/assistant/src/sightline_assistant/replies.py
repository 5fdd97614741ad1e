"""What the assistant shows: AssistantReply events (overlay draws the card)."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp
from sightline.v1.assistant_pb2 import AssistantReply, ReplyAction, ReplyKind
from sightline_runtime import subjects
from sightline_runtime.events import new_meta
from sightline_runtime.publisher import EventPublisher

from sightline_assistant.bus import ASSISTANT, SERVICE


class Replier:
    def __init__(self, publisher: EventPublisher) -> None:
        self.publisher = publisher

    async def send(
        self,
        device_id: str,
        kind: ReplyKind.ValueType,
        title: str,
        body: str = "",
        *,
        items: Sequence[str] = (),
        language: str = "en",
        actions: Sequence[tuple[str, str]] = (),
        reference_id: str = "",
        urgent: bool = False,
        causation_id: str = "",
        speech_ended_at: Timestamp | None = None,
        ttl_ms: int = 0,
    ) -> AssistantReply:
        reply = AssistantReply(
            meta=new_meta(device_id, SERVICE, causation_id=causation_id),
            kind=kind,
            title=title,
            body=body,
            items=list(items),
            language=language,
            actions=[ReplyAction(action_id=action_id, label=label) for action_id, label in actions],
            reference_id=reference_id,
            urgent=urgent,
            ttl_ms=ttl_ms,
        )
        if speech_ended_at is not None and speech_ended_at.seconds:
            reply.speech_ended_at.CopyFrom(speech_ended_at)
        await self.publisher.publish(subjects.domain(SERVICE, "reply", device_id), reply, stream=ASSISTANT)
        return reply
