"""Log lines and request ids, the same on both services (each service's `logs` module binds them
to its own request id, logger names and settings).

A request id is a plain token of at most 64 characters; one made here is `req_` and 24 hex digits.
Log lines are plain text or one JSON object each, with `request_id` on every line a request caused.
"""

import contextvars
import logging
import re
import secrets
import time
from typing import Any

ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
FORMATS = ("plain", "json")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def access_line(logger: logging.Logger, method: str, path: str, status: int, started: float) -> None:
    """One line per request answered (ACCESS_LOG): the path without its query, which may carry a token."""
    duration_ms = round((time.perf_counter() - started) * 1000)
    logger.info(
        "%s %s %s %sms",
        method,
        path,
        status,
        duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
    )


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (from `current`, the service's request being served)."""

    def __init__(self, current: contextvars.ContextVar[str]) -> None:
        super().__init__()
        self.current = current

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = self.current.get()
        return True


def logging_config(
    log_format: str,
    level: str,
    *,
    service: str,
    setting: str,
    request_id: contextvars.ContextVar[str],
    loggers: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """Django's LOGGING for one service: everything to stderr, plain or JSON (`service` on each
    JSON line), each record with the `request_id` the service's context variable holds. `setting`
    names the variable a bad `log_format` came from; `loggers` quiets what is noise to it."""
    if log_format not in FORMATS:
        raise ValueError(f"{setting} is {log_format!r}: use plain or json.")
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "static_fields": {"service": service},
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter, "current": request_id}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers,
    }
