"""JSON logs: one object a line with the service, trace ids and any context
passed as `extra=`; secrets are masked before anything is written."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time

from pythonjsonlogger.json import JsonFormatter

from sightline_runtime.telemetry import current_trace_ids

_SECRET_PATTERNS = (
    # NKey seeds (user, account, operator, server, cluster): "SU" + 56 base32 chars.
    re.compile(r"\bS[UAONC][A-Z2-7]{54,}\b"),
    # JWTs.
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
    # password=..., token: ..., secret=... in free text and URLs.
    re.compile(r"(?i)\b(password|passwd|secret|token|api[_-]?key|authorization)\b(\s*[=:]\s*)(\"[^\"]*\"|\S+)"),
    # user:password@ in URLs.
    re.compile(r"(?<=://)([^:/@\s]+):([^@\s]+)@"),
)
# faststream writes two lines for every message a subscriber takes ("Received",
# "Processed") at its broker's log_level. Per-message lines are DEBUG: at INFO
# a flood of audio frames was also a flood of log lines (65,844 a minute), and
# writing them cost more than shedding the frames (issue 8).
MESSAGE_LOG_LEVEL = logging.DEBUG


def broker_logger(service: str) -> logging.Logger:
    """The logger a service's broker writes faststream's own lines to; pass
    it with log_level=MESSAGE_LOG_LEVEL (NatsBroker(logger=..., log_level=...))."""
    return logging.getLogger(f"sightline.{service}.broker")


_SECRET_KEYS = re.compile(r"(?i)(password|secret|token|seed|credential|api[_-]?key|authorization)")
MASK = "***"


def redact(text: str) -> str:
    text = _SECRET_PATTERNS[0].sub(MASK, text)
    text = _SECRET_PATTERNS[1].sub(MASK, text)
    text = _SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _SECRET_PATTERNS[3].sub(lambda m: f"{m.group(1)}:{MASK}@", text)


class _ContextFilter(logging.Filter):
    """Adds service and trace ids; masks secrets in the message and extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        trace_id, span_id = current_trace_ids()
        if trace_id:
            record.trace_id, record.span_id = trace_id, span_id
        if record.args:
            record.msg, record.args = record.getMessage(), None
        record.msg = redact(str(record.msg))
        # uvicorn adds an ANSI-coloured copy of each message; JSON needs none.
        record.__dict__.pop("color_message", None)
        for key, value in list(vars(record).items()):
            if _SECRET_KEYS.search(key) and key not in ("msg", "args"):
                setattr(record, key, MASK)
            elif isinstance(value, str) and key not in ("msg", "name", "levelname", "pathname", "filename", "module", "funcName"):
                setattr(record, key, redact(value))
        return True


def configure_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Route all logging (ours, faststream's, uvicorn's) to stdout in one format."""
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(service)s %(name)s: %(message)s"))
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access", "nats"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # Per-message access lines would drown the events that matter. faststream's
    # default access logger; a Service's broker logs to broker_logger() instead,
    # its per-message lines at MESSAGE_LOG_LEVEL.
    logging.getLogger("faststream.access").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(max(logging.WARNING, root.level))


class WindowLimiter:
    """At most `burst` events per key per `interval_s` (fixed windows); says
    how many were held back in the previous window when a new one opens."""

    def __init__(self, *, burst: int = 5, interval_s: float = 10.0, max_keys: int = 10_000) -> None:
        self.burst = burst
        self.interval_s = interval_s
        self.max_keys = max_keys
        self._windows: dict[object, list[float]] = {}  # key -> [window_start, count, suppressed]
        self._lock = threading.Lock()

    def allow(self, key: object) -> tuple[bool, int]:
        """(allowed, held back in the previous window of this key)."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.get(key)
            suppressed = 0
            if window is None or now - window[0] >= self.interval_s:
                if len(self._windows) >= self.max_keys:
                    self._windows.clear()
                suppressed = int(window[2]) if window else 0
                window = [now, 0, 0]
                self._windows[key] = window
            if window[1] >= self.burst:
                window[2] += 1
                return False, suppressed
            window[1] += 1
            return True, suppressed


class RateLimitedLog:
    """Logs at most `burst` records per key per `interval` seconds.

    A device flooding garbage must not flood the logs too; the number of
    records held back is reported with the next one let through.
    """

    def __init__(self, logger: logging.Logger, *, burst: int = 5, interval_s: float = 10.0, max_keys: int = 10_000) -> None:
        self.logger = logger
        self.limiter = WindowLimiter(burst=burst, interval_s=interval_s, max_keys=max_keys)

    def log(self, level: int, key: object, msg: str, **extra: object) -> bool:
        allowed, suppressed = self.limiter.allow(key)
        if not allowed:
            return False
        if suppressed:
            extra["suppressed_since_last"] = suppressed
        self.logger.log(level, msg, extra=extra)
        return True
