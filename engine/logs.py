"""The engine's log lines: plain text, or one JSON object per line (ENGINE_LOG_FORMAT=json, or
LOG_FORMAT=json for both services), each carrying the id of the request that caused it.

A request's id is the X-Request-Id it came with when that is a plain token (the console sends the
id of its own request, so one id finds both services' lines), else one made here; the response
repeats it in X-Request-Id and error bodies in `requestId` (engine/api/middleware.py).
"""

import contextvars
import functools
import logging
from typing import Any

from shared import logs as shared
from shared.logs import ACCEPTED_REQUEST_ID
from shared.logs import new_request_id as new_request_id

# The request being served (set by engine/api/middleware.py); "" outside any request.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
access_logger = logging.getLogger("engine.access")
# One line per request answered (ACCESS_LOG): method, path without its query, status, duration.
access_line = functools.partial(shared.access_line, access_logger)


def request_id_from(header: str | None) -> str:
    """The id a client sent, when it is a plain token of at most 64 characters; else a new one."""
    return header if header and ACCEPTED_REQUEST_ID.match(header) else new_request_id()


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for the engine: everything to stderr, plain or JSON."""
    return shared.logging_config(
        log_format,
        level,
        service="engine",
        setting="ENGINE_LOG_FORMAT (or LOG_FORMAT)",
        request_id=current_request_id,
        loggers={"django.db.backends": {"level": "WARNING"}},
    )
