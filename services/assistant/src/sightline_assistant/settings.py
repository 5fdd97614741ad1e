"""The assistant's settings (SIGHTLINE_* environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from sightline_runtime.api_keys import NamedApiKeys
from sightline_runtime.settings import ServiceSettings


class AssistantSettings(ServiceSettings):
    # hide_input_in_errors: a raw API key set by mistake where its digest belongs is not echoed.
    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", extra="ignore", frozen=True, hide_input_in_errors=True)

    # --- when speech is a command ---
    # A final that starts with one of these is a command (case, spaces and punctuation don't matter).
    wake_phrases: tuple[str, ...] = ("hey sightline", "hi sightline", "ok sightline", "okay sightline", "你好 sightline", "嘿 sightline")
    # After the action button (or a double tap), the next final within this long is a command.
    command_mode_s: float = Field(default=8.0, gt=0)
    # A final older than this is kept in the transcript but never obeyed: a
    # command replayed after an outage ("buy this") must not act an hour late.
    command_max_age_s: float = Field(default=30.0, gt=0)
    # "Did you mean …?" cards wait this long for the wearer's answer.
    suggestion_ttl_s: float = Field(default=20.0, gt=0)

    # --- understanding (sightline_assistant.domain.understanding) ---
    # Calibrated nearest-example confidence at which a paraphrase is obeyed, and
    # below which no "Did you mean" is offered (bench/intent_accuracy.py measures them).
    intent_accept_threshold: float = Field(default=0.5, ge=0, le=1)
    intent_suggest_threshold: float = Field(default=0.3, ge=0, le=1)

    # --- the LLM adapter: any OpenAI-compatible chat-completions endpoint; empty = none ---
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_s: float = Field(default=4.0, gt=0)
    llm_max_tokens: int = Field(default=200, gt=0)
    # Meeting notes may take longer than an answer: nobody waits for them mid-sentence.
    llm_summary_timeout_s: float = Field(default=30.0, gt=0)

    # --- the store: transcripts, notes, meeting notes, schedules ---
    # SQLAlchemy URL; empty = an SQLite file in assistant_data_dir.
    assistant_db_url: str = ""
    assistant_data_dir: Path = Path("var/assistant")
    assistant_db_schema: str = Field(default="", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    # How long each final transcript (and its translation) is kept, and notes.
    transcript_line_retention_days: float = Field(default=30.0, gt=0)
    notes_retention_days: float = Field(default=365.0, gt=0)
    store_retention_interval_s: float = Field(default=3600.0, gt=0)

    # --- schedules from .ics files ---
    # Under the hub's 2 MiB max payload.
    calendar_max_ics_bytes: int = Field(default=1024 * 1024, gt=0, le=2 * 1024 * 1024 - 4096)
    # Repeating events are expanded this far from the start of the device's day.
    calendar_window_days: int = Field(default=60, gt=0, le=366)
    # Occurrences per import; the rest become warnings.
    calendar_max_events: int = Field(default=5000, gt=0)

    # --- reminders ---
    reminder_max_text_chars: int = Field(default=500, gt=0)
    reminder_max_days_ahead: int = Field(default=366, gt=0)

    # --- the briefing: the first wake of the wearer's day ---
    briefing_events: int = Field(default=3, ge=0)
    briefing_notifications: int = Field(default=3, ge=0)

    # --- "what is this" ---
    # A photo this recent answers "what is this" without taking a new one.
    what_is_this_recent_s: float = Field(default=20.0, gt=0)
    # How long to wait for the photo the glasses were asked to take.
    what_is_this_wait_s: float = Field(default=15.0, gt=0)

    # --- the notification ingress (notify_http / notify_grpc); 0 = off ---
    notify_http_port: int = Field(default=0, ge=0, le=65535)
    notify_grpc_port: int = Field(default=0, ge=0, le=65535)
    # The local stack listens on 127.0.0.1 only; containers on every interface.
    notify_host: str = "0.0.0.0"  # noqa: S104
    # SHA-256 hex of each key -> {"name": integration (the notification's source), "devices": [...] or "*"}.
    notify_api_keys: NamedApiKeys = Field(default_factory=dict)
    notify_max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    notify_card_ttl_ms: int = Field(default=8000, ge=0)
    notify_title_max_chars: int = Field(default=120, ge=1)
    notify_body_max_chars: int = Field(default=2000, ge=1)
    notify_dedup_key_max_chars: int = Field(default=128, ge=1)
    notify_dedup_window_s: float = Field(default=600.0, ge=0)
    notify_source_per_s: float = Field(default=1.0, gt=0)
    notify_source_burst: float = Field(default=20.0, ge=1)
    notify_unread_per_device: int = Field(default=50, ge=1)

    def store_url(self) -> str:
        if self.assistant_db_url:
            return self.assistant_db_url
        return f"sqlite+aiosqlite:///{(self.assistant_data_dir / 'assistant.db').resolve()}"
