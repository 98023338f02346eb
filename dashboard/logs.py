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
import functools
import logging
from typing import Any

from shared import logs as shared
from shared.logs import ACCEPTED_REQUEST_ID as ACCEPTED_REQUEST_ID
from shared.logs import new_request_id as new_request_id

# The request being served; "" outside any (the relay's reader, start-up).
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
access_logger = logging.getLogger("dashboard.access")
# One line per request answered (ACCESS_LOG): method, path without its query, status, duration.
access_line = functools.partial(shared.access_line, access_logger)


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for the console: everything to stderr, plain or JSON."""
    return shared.logging_config(
        log_format,
        level,
        service="console",
        setting="LOG_FORMAT",
        request_id=current_request_id,
        # one line per upstream request is noise; the client logs retries and failures itself
        loggers={"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
    )
