"""The assistant's own metrics (the runtime's per-handler ones come with every service)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

# Understanding is milliseconds (grammar) to tens of milliseconds (the embedding model).
UNDERSTANDING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# A reminder fires within a second of its time, or something is wrong.
FIRING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 30.0, 300.0)


@dataclass(frozen=True)
class AssistantMetrics:
    # Finals by what they were: empty (nothing said), caption (not addressed), stale (too old to obey), woken (the wake
    # phrase alone), too_long (over the understanding's limit: refused, kept in the transcript), or the understanding's
    # status: command, suggestion, incomplete, invalid, not_understood.
    finals: Counter
    # Commands obeyed, by intent and how they were understood (grammar, examples, suggestion, glasses).
    commands: Counter
    understanding_seconds: Histogram
    # Reminders: set, refused, fired, rescheduled (the next of a recurring one).
    reminders: Counter
    # How late a reminder's card went out after its due time.
    reminder_lateness_seconds: Histogram
    # Notifications pushed, by delivery: shown, held, duplicate; refused ones by reason.
    notifications: Counter
    # LLM answers: ok, fallback (answered from the tags), failed.
    llm_answers: Counter
    # Meeting notes summarised, by engine: extractive, llm.
    meeting_notes: Counter
    # Lines written to the transcript: final, translation.
    transcript_lines: Counter
    # "Did you mean …?" offers: offered, accepted, declined, expired (a Yes to no pending offer of the device).
    suggestions: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> AssistantMetrics:
        return cls(
            finals=Counter(
                "sightline_assistant_finals_total",
                "Final transcripts: empty, caption, stale (too old to obey), woken, too_long; "
                "command, suggestion, incomplete, invalid, not_understood",
                ["outcome"],
                registry=registry,
            ),
            commands=Counter(
                "sightline_assistant_commands_total",
                "Commands obeyed, by intent and how they were understood",
                ["intent", "understood_by"],
                registry=registry,
            ),
            understanding_seconds=Histogram(
                "sightline_assistant_understanding_seconds",
                "Time to understand one command (wake phrase, grammar, nearest example)",
                ["understood_by"],
                buckets=UNDERSTANDING_BUCKETS,
                registry=registry,
            ),
            reminders=Counter(
                "sightline_assistant_reminders_total",
                "Reminders: set, refused, fired, rescheduled (next of a recurring one)",
                ["outcome"],
                registry=registry,
            ),
            reminder_lateness_seconds=Histogram(
                "sightline_assistant_reminder_lateness_seconds",
                "How long after its due time a reminder's card was sent",
                buckets=FIRING_BUCKETS,
                registry=registry,
            ),
            notifications=Counter(
                "sightline_assistant_notifications_total",
                "Notifications pushed to devices: shown, held, duplicate, or refused with a reason",
                ["outcome"],
                registry=registry,
            ),
            llm_answers=Counter(
                "sightline_assistant_llm_answers_total",
                "Answers asked of the LLM: ok, fallback (answered without it), failed",
                ["outcome"],
                registry=registry,
            ),
            meeting_notes=Counter(
                "sightline_assistant_meeting_notes_total",
                "Meeting notes summarised, by engine (extractive, llm)",
                ["engine"],
                registry=registry,
            ),
            transcript_lines=Counter(
                "sightline_assistant_transcript_lines_total",
                "Lines written to the kept transcript: final, translation",
                ["kind"],
                registry=registry,
            ),
            suggestions=Counter(
                "sightline_assistant_suggestions_total",
                "'Did you mean' offers: offered, accepted, declined, expired (a Yes to no pending offer of the device)",
                ["outcome"],
                registry=registry,
            ),
        )
