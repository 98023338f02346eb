"""The contract's error body, and the one place that turns exceptions into it.

`{"error": {"code", "message", "details"}, "requestId"}` with the HTTP status: domain errors
(`engine.errors.ApiError`) carry their status and code; ninja's own errors (validation, missing
key, unknown route) and anything unexpected are mapped here, so no handler builds a body by hand.
"""

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from engine import metrics
from engine.errors import ApiError

logger = logging.getLogger("engine.api")

# The body every error status answers with, as the OpenAPI document declares it.
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "requestId"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": ["object", "null"]},
            },
        },
        "requestId": {"type": ["string", "null"]},
    },
}


def key_required() -> ApiError:
    return ApiError(401, "auth.required", "Send a valid API key as 'Authorization: Bearer <key>'.")


def error_body(error: ApiError, request_id: str | None) -> dict[str, Any]:
    """The body itself (also sent by the ASGI guard, before Django has a request)."""
    return {
        "error": {"code": error.code, "message": error.message, "details": error.details},
        "requestId": request_id,
    }


def error_response(request: HttpRequest, error: ApiError) -> JsonResponse:
    metrics.API_ERRORS.labels(str(error.status), error.code).inc()
    response = JsonResponse(error_body(error, getattr(request, "request_id", None)), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ())]
        # ninja prefixes the source ("body", "query", "path") and the parameter name.
        if location and location[0] in ("body", "query", "path", "header", "form", "file"):
            location = location[1:]
            if len(location) > 1 and location[0] in ("payload", "body", "filters", "query"):
                location = location[1:]
        message = error.get("msg", "Invalid.")
        if error.get("type") == "extra_forbidden":
            message = "Unknown field: not one this object takes (see the API reference)."
        fields.append({"path": ".".join(location) or "body", "message": message})
    names = ", ".join(f["path"] for f in fields[:5])
    return error_response(
        request, ApiError(400, "request.invalid", f"The request is not valid: {names}.", {"fields": fields})
    )


def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, key_required())


def on_not_found(request: HttpRequest, exc: Http404 | None = None) -> HttpResponse:
    return error_response(request, ApiError(404, "request.not_found", "No such resource or route."))


def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {
        400: "request.invalid",
        401: "auth.required",
        403: "auth.forbidden",
        404: "request.not_found",
    }.get(exc.status_code, "request.invalid" if exc.status_code < 500 else "server.error")
    return error_response(request, ApiError(exc.status_code, code, str(exc.message)))


def on_unexpected(request: HttpRequest, exc: Exception | None = None) -> HttpResponse:
    if exc is not None:
        logger.exception("Unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(
        request,
        ApiError(500, "server.error", "The engine failed to handle this request; it has been logged."),
    )


def install(api: NinjaAPI) -> None:
    """Register every handler above on `api`."""
    handlers: list[tuple[type[Exception], Any]] = [
        (ApiError, error_response),
        (ValidationError, on_validation_error),
        (AuthenticationError, on_auth_error),
        (Http404, on_not_found),
        (HttpError, on_http_error),
        (Exception, on_unexpected),
    ]
    for exception, handler in handlers:
        api.add_exception_handler(exception, handler)
