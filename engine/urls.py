from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from engine.api import api


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {
            "error": {"code": "request.not_found", "message": "No such route.", "details": None},
            "requestId": getattr(request, "request_id", None),
        },
        status=404,
    )


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "error": {
                "code": "server.error",
                "message": "The engine failed to handle this request.",
                "details": None,
            },
            "requestId": getattr(request, "request_id", None),
        },
        status=500,
    )


urlpatterns = [
    path("v1/", api.urls),
    path("healthz", healthz),
    path("embed/", include("engine.live.urls")),
]

handler404 = not_found
handler500 = server_error
