"""How a request subject says no: an empty body and the NATS services
error headers (the NATS micro convention), so a caller can tell a refusal
("400 bad request", "403 not yours", "503 try again") from an empty answer."""

from __future__ import annotations

from collections.abc import Mapping

ERROR_HEADER = "Nats-Service-Error"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"


def error_headers(code: int, message: str) -> dict[str, str]:
    return {ERROR_HEADER: message[:500], ERROR_CODE_HEADER: str(code)}


def refusal(headers: Mapping[str, str] | None) -> tuple[int, str] | None:
    """(code, message) when a reply carries the error headers, else None."""
    if not headers or ERROR_CODE_HEADER not in headers:
        return None
    return int(headers[ERROR_CODE_HEADER]), headers.get(ERROR_HEADER, "")
