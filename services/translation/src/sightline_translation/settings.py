from __future__ import annotations

from pydantic import Field, SecretStr
from sightline_runtime.settings import ServiceSettings


class TranslationSettings(ServiceSettings):
    """Every field is SIGHTLINE_<FIELD>, e.g. SIGHTLINE_TRANSLATION_ROUTES."""

    # Engines per language pair, tried in order ("a>b": b answers when a fails).
    # Also accepted as JSON: {"zh-en": ["openai-compatible", "cedict"]}.
    # openai-compatible is dropped from a route while no LLM URL is set.
    translation_routes: str = "en-es=apertium,es-en=apertium,zh-en=openai-compatible>cedict,en-zh=openai-compatible>cedict"

    # Apertium: language pair -> mode name in <apertium_dir>/modes/<mode>.mode.
    # Another pair = its Debian package + one entry here + a route.
    translation_apertium_modes: str = "en-es=eng-spa,es-en=spa-eng"
    translation_apertium_dir: str = "/usr/share/apertium"
    translation_apertium_timeout_s: float = Field(default=5.0, gt=0)

    # OpenAI-compatible chat-completions endpoint (e.g. vLLM serving a Qwen-MT
    # class model): base URL such as http://vllm:8000/v1; empty = not used.
    translation_llm_url: str = ""
    translation_llm_model: str = "qwen-mt-turbo"
    translation_llm_api_key: SecretStr = SecretStr("")
    translation_llm_timeout_s: float = Field(default=2.0, gt=0)
    # Consecutive failures that pause the endpoint, and for how long.
    translation_llm_failure_threshold: int = Field(default=3, ge=1)
    translation_llm_cooldown_s: float = Field(default=15.0, ge=0)

    # Longer transcripts are refused (ASR cuts utterances at ~20 s, ~400 characters).
    translation_max_text_chars: int = Field(default=2_000, gt=0)
    translation_max_rpc_texts: int = Field(default=64, gt=0)
    # Text regions of one photo translated at most (a page of a menu has ~100 lines).
    translation_max_photo_regions: int = Field(default=200, gt=0)
    translation_cache_size: int = Field(default=10_000, ge=0)

    # Partials: at most one engine call per utterance per interval; newer
    # partials replace older waiting ones (latest wins).
    translation_partial_min_interval_ms: int = Field(default=200, ge=0)
    # Partial translations running at once across all devices.
    translation_partial_concurrency: int = Field(default=4, gt=0)
    # Utterances whose partial state is remembered (least recent dropped).
    translation_max_utterances: int = Field(default=10_000, gt=0)

    # An unsupported language pair is reported (ErrorEvent) at most this often per device and pair.
    translation_unsupported_report_interval_s: float = Field(default=60.0, ge=0)
