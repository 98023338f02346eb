"""Request ids and log lines: every console request gets an id that travels to the API.

The `request_id` middleware (dashboard/front/middleware.py, right after the probes) gives each
request an id: the X-Request-Id a trusted proxy put on it, else a new one. The API client sends
it on every call the request makes (X-Request-Id); the engine uses it for its own request and
log lines and repeats it in its error bodies (`requestId`, shown with every upstream error); the
console's response carries it too. So one id finds the console's lines and the engine's. Log
lines are plain text or one JSON object each (LOG_FORMAT=json), with `request_id` on every line
a request caused, and one access line per request with ACCESS_LOG=true.
"""

import contextvars
import logging
import re
import secrets
import time
from typing import Any

# The request being served; "" outside any (the relay's reader, start-up).
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
FORMATS = ("plain", "json")
access_logger = logging.getLogger("dashboard.access")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


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
    """Django's LOGGING for the console: everything to stderr, plain or JSON."""
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT is {log_format!r}: use plain or json.")
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "static_fields": {"service": "console"},
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "dashboard.logs.RequestIdFilter"}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
        # one line per upstream request is noise; the client logs retries and failures itself
        "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
    }
