"""The engine's log lines: plain text, or one JSON object per line (ENGINE_LOG_FORMAT=json, or
LOG_FORMAT=json for both services), each carrying the id of the request that caused it.

A request's id is the X-Request-Id it came with when that is a plain token (the console sends the
id of its own request, so one id finds both services' lines), else one made here; the response
repeats it in X-Request-Id and error bodies in `requestId` (engine/api/middleware.py).
"""

import contextvars
import logging
import re
import secrets
import time
from typing import Any

# The request being served (set by engine/api/middleware.py); "" outside any request.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
FORMATS = ("plain", "json")
access_logger = logging.getLogger("engine.access")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def request_id_from(header: str | None) -> str:
    """The id a client sent, when it is a plain token of at most 64 characters; else a new one."""
    return header if header and ACCEPTED_REQUEST_ID.match(header) else new_request_id()


def access_line(method: str, path: str, status: int, started: float) -> None:
    """One line per request answered (ACCESS_LOG): the path without its query, which may carry a token."""
    duration_ms = round((time.perf_counter() - started) * 1000)
    access_logger.info(
        "%s %s %s %sms",
        method,
        path,
        status,
        duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
    )


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (from the request being served)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = current_request_id.get()
        return True


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for the engine: everything to stderr, plain or JSON."""
    if log_format not in FORMATS:
        raise ValueError(f"ENGINE_LOG_FORMAT (or LOG_FORMAT) is {log_format!r}: use plain or json.")
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "static_fields": {"service": "engine"},
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "engine.logs.RequestIdFilter"}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}},
    }
