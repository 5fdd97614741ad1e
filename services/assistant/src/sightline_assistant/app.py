"""Wiring of the assistant service (the only place that touches the broker)."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from sightline.v1.assistant_pb2 import AssistantReply, Notification
from sightline_runtime import subjects
from sightline_runtime.api_keys import ApiKeys
from sightline_runtime.processes import cancel_task
from sightline_runtime.service import Resources, Service

from sightline_assistant.bus import ASSISTANT, SERVICE, STATE, SURFACE
from sightline_assistant.commands import CommandDesk
from sightline_assistant.domain.understanding import Understander, UnderstandingSettings
from sightline_assistant.domain.wake import WakePhrases
from sightline_assistant.engines.llm import AnswerConfig, ExtractiveSummarizer, LlmAnswerer, LlmSummarizer, SummaryConfig
from sightline_assistant.handlers import AssistantHandlers
from sightline_assistant.metrics import AssistantMetrics
from sightline_assistant.notifications import NotificationConfig, NotificationIntake
from sightline_assistant.notify_ingress import NotificationIngress
from sightline_assistant.replies import Replier
from sightline_assistant.rpc import AssistantRequests, CalendarLimits
from sightline_assistant.settings import AssistantSettings
from sightline_assistant.state import DeviceState, KvState, MemoryState
from sightline_assistant.store.retention import expire_forever
from sightline_assistant.store.store import AssistantStore, Retention
from sightline_assistant.timers import ReminderTimers


def load_understander(settings: AssistantSettings) -> Understander:
    """The grammar and the example matchers (all-MiniLM-L6-v2: seconds to load, once)."""
    return Understander.load(UnderstandingSettings(accept=settings.intent_accept_threshold, suggest=settings.intent_suggest_threshold))


def create_service(
    settings: AssistantSettings | None = None, *, understander: Understander | None = None, **service_options: Any
) -> Service:
    """`understander`: one already loaded (the tests share one per session)."""
    settings = settings or AssistantSettings()

    async def build(resources: Resources) -> AssistantHandlers:
        loaded = understander or await asyncio.get_running_loop().run_in_executor(None, load_understander, settings)
        metrics = AssistantMetrics.register(resources.metrics.registry)
        kv = resources.buckets.get(STATE.name)
        state = DeviceState(KvState(kv) if kv is not None else MemoryState())
        replier = Replier(resources.publisher)
        timers = ReminderTimers(resources.publisher, resources.js)

        settings.assistant_data_dir.mkdir(parents=True, exist_ok=True)
        store = await AssistantStore.open(
            settings.store_url(),
            schema=settings.assistant_db_schema,
            retention=Retention(line_days=settings.transcript_line_retention_days, notes_days=settings.notes_retention_days),
        )
        resources.on_shutdown(store.close)
        expiry = asyncio.create_task(expire_forever(store, every_s=settings.store_retention_interval_s), name="assistant-store-retention")
        resources.on_shutdown(functools.partial(cancel_task, expiry))

        answerer = await LlmAnswerer(_answer_config(settings)).start()
        resources.on_shutdown(answerer.close)
        summarizer: Any = ExtractiveSummarizer()
        if settings.llm_base_url:
            summarizer = await LlmSummarizer(_summary_config(settings), fallback=summarizer).start()
            resources.on_shutdown(summarizer.close)

        async def publish_notification(notification: Notification) -> None:
            device = notification.meta.device_id
            await resources.publisher.publish(subjects.domain(SERVICE, "notification", device), notification, stream=ASSISTANT)

        async def show_card(card: AssistantReply) -> None:
            await resources.publisher.publish(subjects.domain(SERVICE, "reply", card.meta.device_id), card, stream=ASSISTANT)

        notify_config = NotificationConfig.from_settings(settings)
        notifications = NotificationIntake.create(
            notify_config, lookup=resources.devices.lookup, publish=publish_notification, show=show_card, navigating=state.navigating
        )
        if notify_config.http_port or notify_config.grpc_port:
            ingress = await NotificationIngress.start(notify_config, ApiKeys(settings.notify_api_keys), notifications.deliver)
            resources.on_shutdown(ingress.stop)

        desk = CommandDesk(
            publisher=resources.publisher,
            replier=replier,
            timers=timers,
            state=state,
            store=store,
            notifications=notifications,
            summarizer=summarizer,
            answerer=answerer,
            settings=settings,
            metrics=metrics,
        )
        resources.on_shutdown(desk.close)
        return AssistantHandlers(
            settings=settings,
            understander=loaded,
            wake=WakePhrases(settings.wake_phrases),
            desk=desk,
            replier=replier,
            timers=timers,
            state=state,
            store=store,
            notifications=notifications,
            rpc=AssistantRequests(
                store,
                resources.devices,
                limits=CalendarLimits(
                    max_bytes=settings.calendar_max_ics_bytes,
                    window_days=settings.calendar_window_days,
                    max_events=settings.calendar_max_events,
                ),
            ),
            metrics=metrics,
        )

    return Service(SURFACE, settings, build, **service_options)


def _answer_config(settings: AssistantSettings) -> AnswerConfig:
    return AnswerConfig(
        endpoint=settings.llm_base_url,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        max_tokens=settings.llm_max_tokens,
        api_key=settings.llm_api_key,
    )


def _summary_config(settings: AssistantSettings) -> SummaryConfig:
    return SummaryConfig(
        endpoint=settings.llm_base_url,
        model=settings.llm_model,
        timeout_s=settings.llm_summary_timeout_s,
        api_key=settings.llm_api_key,
    )


def main() -> None:
    create_service().run()
