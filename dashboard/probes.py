"""What load balancers, orchestrators and monitoring ask a console process, without signing in.

- `/healthz`: the process is up and serving (no I/O).
- `/readyz`: it can serve pages now: its database answers, Redis too when REDIS_URL is set, the
  API answers its key, and the updates relay is not stuck reconnecting (an idle relay is fine: it
  starts with the first page). 503 with the same small body otherwise. The checks run together,
  each within CHECK_SECONDS, so a dead dependency is reported in seconds, never a hang.
- `/metrics`: Prometheus text (dashboard/live/metrics.py) for the bearer token METRICS_TOKEN;
  without one set it is off (404). With several processes behind one port it answers for all of
  them (PROMETHEUS_MULTIPROC_DIR, set by `manage.py up`).

All three are answered by the first middleware, before sessions, CSRF and the host check: a probe
comes with whatever Host header its orchestrator uses and must not make a session. The bodies
name checks and states only: no address, key or error text.
"""

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError
from dashboard.live.relay import running_relay
from shared import probes as shared_probes

CHECK_SECONDS = 3.0
# The relay reconnects with a growing delay (10 s at most): past this, it is not just a blip.
RELAY_RECONNECTING_SECONDS = 30.0


async def _redis() -> str:
    if not settings.REDIS_URL:
        return "off"
    try:
        await asyncio.wait_for(cache.aset("console.readyz", time.time(), 30), CHECK_SECONDS)
    except TimeoutError:
        return "timeout"
    except Exception:  # redis-py's errors, whatever the client library version names them
        return "unavailable"
    return "ok"


async def _api() -> str:
    try:
        await asyncio.wait_for(
            get_client().request("GET", "workspaces", params={"limit": 1}, timeout=CHECK_SECONDS),
            CHECK_SECONDS + 0.5,
        )
    except TimeoutError:
        return "timeout"
    except BctrlError as error:
        return "refused" if error.status in (401, 403) else "unavailable"
    return "ok"


def _relay() -> str:
    relay = running_relay()
    state = relay.state() if relay is not None else None
    if state is None or not state.running:
        return "idle"
    if state.connected:
        return "connected"
    assert relay is not None
    return "down" if relay.reconnecting_for() > RELAY_RECONNECTING_SECONDS else "reconnecting"


async def readyz(request: HttpRequest) -> JsonResponse:
    database, redis, api = await asyncio.gather(shared_probes.database(CHECK_SECONDS), _redis(), _api())
    checks = {"database": database, "redis": redis, "api": api, "relay": _relay()}
    ready = database == "ok" and redis in ("ok", "off") and api == "ok" and checks["relay"] != "down"
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


async def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        return JsonResponse({"error": "Metrics are off: set METRICS_TOKEN and scrape with it."}, status=404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        given.strip().encode(), settings.METRICS_TOKEN.encode()
    ):
        return JsonResponse(
            {"error": "Send METRICS_TOKEN as a bearer token (Authorization: Bearer <token>)."},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # several processes: every one's series
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    # the text format the scraper asks for (Accept), 0.0.4 when it names none
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)


PROBES: dict[str, Callable[[HttpRequest], Awaitable[HttpResponse]]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics,
}


def probes_middleware(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    assert iscoroutinefunction(get_response), "the console's middleware chain is async (ASGI)"

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        probe = PROBES.get(request.path)
        if probe is None:
            return await get_response(request)
        if request.method not in ("GET", "HEAD"):
            return JsonResponse({"error": "Use GET."}, status=405, headers={"Allow": "GET, HEAD"})
        response = await probe(request)
        response["Cache-Control"] = "no-store"
        return response

    markcoroutinefunction(middleware)
    return middleware


probes_middleware.async_capable = True  # type: ignore[attr-defined]
probes_middleware.sync_capable = False  # type: ignore[attr-defined]
