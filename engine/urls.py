from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from engine.api import errors, probes
from engine.api.app import api
from engine.runtimes.manager import manager


def healthz(request: HttpRequest) -> JsonResponse:
    # The warm pool's fill says when a default launch will be served warm (benches, tests, ops);
    # the isolation mode whether runtimes run isolated, or at all (engine/egress/launcher.py).
    return JsonResponse(
        {"ok": True, "warmPool": manager.pool.state(), "isolation": manager.isolation.payload()}
    )


# Outside the API's own routes (a path it does not know, a crash in middleware) Django answers;
# these keep its answers in the contract's error body too.
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return errors.on_not_found(request)


def server_error(request: HttpRequest) -> HttpResponse:
    return errors.on_unexpected(request)


urlpatterns = [
    path("v1/", api.urls),
    path("healthz", healthz),
    path("readyz", probes.readyz),
    path("metrics", probes.metrics_view),
    path("embed/", include("engine.live.urls")),
]

handler404 = not_found
handler500 = server_error
