"""What supervisors and monitoring ask the engine, outside /v1 and without an API key.

- `/healthz` (engine/urls.py): the process is up; never refused as busy.
- `/readyz`: it can serve, now: its database answers. 503 with the same small body otherwise;
  each check has a time limit, so the answer comes within seconds even when the database hangs.
  Whether runtimes may launch is said beside the checks (`runtimes`: `isolated`, `unisolated`
  where ENGINE_ALLOW_UNISOLATED=true, `refused`, `pending` before the start-up check) but does not make the engine unready: an engine that
  cannot isolate runtimes (the image run as its unprivileged user) still serves everything else
  (storage, vault, profiles, recordings, the runtimes list), and taking it out of rotation, or
  restarting it, would not change the host it runs on. Its launches answer
  503 runtime.isolation_unavailable; /healthz says why.
- `/metrics`: the Prometheus text format (engine/metrics.py), for a bearer token
  (ENGINE_METRICS_TOKEN); without one set it is off (404).

None of them says anything secret: check names and states, never an address or a message.
"""

import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from engine import metrics
from engine.api.errors import error_response
from engine.api.guard import admission
from engine.egress import launcher
from engine.errors import ApiError
from engine.runtimes.manager import manager
from shared import probes as shared_probes

CHECK_SECONDS = 3.0
RUNTIMES_LAUNCH = (launcher.ISOLATED, launcher.UNISOLATED)

# Read at each scrape, from memory.
metrics.RUNTIMES_ACTIVE.set_function(lambda: len(manager.sessions))
metrics.REQUESTS_IN_FLIGHT.labels("requests").set_function(lambda: admission.requests)
metrics.REQUESTS_IN_FLIGHT.labels("streams").set_function(lambda: admission.streams)


def _runtimes() -> str:
    """How runtimes launch here: `isolated`, `unisolated` (ENGINE_ALLOW_UNISOLATED=true), or not at
    all: `refused` (the engine cannot isolate them and may not run them unisolated), `pending`."""
    isolation = manager.isolation
    if isolation.allowed:
        return isolation.mode
    return "pending" if isolation.mode == "pending" else "refused"


async def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": await shared_probes.database(CHECK_SECONDS)}
    ready = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"ready": ready, "checks": checks, "runtimes": _runtimes()}, status=200 if ready else 503
    )


async def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return error_response(
            request,
            ApiError(404, "metrics.off", "Metrics are off: set ENGINE_METRICS_TOKEN and scrape with it."),
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token.encode()):
        return error_response(
            request,
            ApiError(
                401,
                "auth.required",
                "Send ENGINE_METRICS_TOKEN as a bearer token (Authorization: Bearer <token>).",
                headers={"WWW-Authenticate": "Bearer"},
            ),
        )
    # the text format the scraper asks for (Accept), 0.0.4 when it names none
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(REGISTRY), content_type=content_type)
