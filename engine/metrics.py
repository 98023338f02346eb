"""The engine's Prometheus series, served at /metrics (engine/api/probes.py).

One engine process serves every request (uvicorn with one worker: `manage.py runengine`), so the
series live in prometheus_client's default registry, beside its process_* series (memory, CPU,
open files). Labels take values from small fixed sets only (outcomes, the engine's own error
codes, the call catalogue's names): never a URL, an id, a key or a name a client chose.
"""

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from engine.errors import ApiError

RUNTIMES_ACTIVE = Gauge("bctrl_runtimes_active", "Runtimes whose browser this engine holds now.")
RUNTIME_LAUNCHES = Counter(
    "bctrl_runtime_launches",
    "Runtime launches by result: `started`, or the error code that refused or failed it "
    "(`rate_limited`: a capacity or per-key limit; `runtime.launch_failed`: Chromium did not start).",
    ["result"],
)
RUNTIME_LAUNCH_SECONDS = Histogram(
    "bctrl_runtime_launch_seconds",
    "Time from a launch request to its runtime being active (started launches only).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
STEP_SECONDS = Histogram(
    "bctrl_step_seconds",
    "Time one execute step took, by call and result (`ok`, `failed`).",
    ["call", "result"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
REQUESTS_IN_FLIGHT = Gauge(
    "bctrl_requests_in_flight",
    "Requests being served now (`requests`), and long polls plus update streams (`streams`), "
    "each against its admission limit (ENGINE_MAX_REQUESTS_IN_FLIGHT / ENGINE_MAX_STREAMS_IN_FLIGHT).",
    ["kind"],
)
ADMISSION_REFUSALS = Counter(
    "bctrl_admission_refusals",
    "Requests refused unread with 503 server.busy because their kind was at its limit.",
    ["kind"],
)
API_ERRORS = Counter(
    "bctrl_api_errors",
    "Error answers of the API by status and code (429 rate_limited: per-key and capacity limits).",
    ["status", "code"],
)


@contextlib.contextmanager
def launch_observed() -> Iterator[None]:
    """Count the launch inside by its result, and time it when it started a runtime."""
    started = time.perf_counter()
    try:
        yield
    except ApiError as error:
        RUNTIME_LAUNCHES.labels(error.code).inc()
        raise
    except Exception:
        RUNTIME_LAUNCHES.labels("server.error").inc()
        raise
    RUNTIME_LAUNCHES.labels("started").inc()
    RUNTIME_LAUNCH_SECONDS.observe(time.perf_counter() - started)


def observe_steps(results: list[dict[str, Any]]) -> None:
    """Time each step an execute ran (a dry run's are not run)."""
    for step in results:
        if not step.get("dryRun"):
            STEP_SECONDS.labels(step["call"], "ok" if step["ok"] else "failed").observe(
                step.get("durationMs", 0) / 1000
            )
