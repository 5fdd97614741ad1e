"""The asr service's own metrics (no device ids as labels)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

INFERENCE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)
DELAY_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


class AsrMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.transcripts = Counter(
            "sightline_asr_transcripts_total", "Transcripts published, by kind (partial, final)", ["kind"], registry=registry
        )
        self.inference = Histogram(
            "sightline_asr_inference_seconds",
            "Time one inference took, by engine and job (partial, candidate, final)",
            ["engine", "job"],
            buckets=INFERENCE_BUCKETS,
            registry=registry,
        )
        self.real_time_factor = Histogram(
            "sightline_asr_real_time_factor",
            "Inference seconds per second of audio transcribed, by engine",
            ["engine"],
            buckets=RTF_BUCKETS,
            registry=registry,
        )
        self.final_delay = Histogram(
            "sightline_asr_final_delay_seconds",
            "End of speech (on the stream's audio clock) to its final transcript being published",
            ["engine"],
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self.active_streams = Gauge("sightline_asr_active_streams", "Audio streams this replica holds state for", registry=registry)
        self.frames_dropped = Counter(
            "sightline_asr_frames_dropped_total",
            "Audio frames accepted by the guard but not used, by reason (rate_limited, out_of_order, unsupported_language)",
            ["reason"],
            registry=registry,
        )
        self.utterances = Counter(
            "sightline_asr_utterances_total",
            "Utterances ended, by how (sentence, pause, max_length, end_of_stream, new_stream, idle, evicted, dropped)",
            ["reason"],
            registry=registry,
        )
        self.end_verdicts = Counter(
            "sightline_asr_end_verdicts_total",
            "Final candidates judged at a pause: complete (the pause may end sooner), unfinished (later), unknown",
            ["verdict"],
            registry=registry,
        )
        self.partials_skipped = Counter(
            "sightline_asr_partials_skipped_total",
            "Partials not computed because a newer one or the final superseded them (latest-wins)",
            registry=registry,
        )
        self.engine_failures = Counter(
            "sightline_asr_engine_failures_total", "Inferences that raised, by engine", ["engine"], registry=registry
        )
        self.queue_depth = Gauge("sightline_asr_devices_waiting", "Streams waiting for an inference turn", registry=registry)
