"""The contract's error body and the one exception the handlers raise to produce it."""

from typing import Any

from django.http import HttpRequest, JsonResponse


class ApiError(Exception):
    """An error the API reports to its caller: a status, a stable dotted code, a sentence."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def not_found(code: str, what: str) -> ApiError:
    return ApiError(404, code, f"{what} does not exist.")


def invalid(message: str, fields: list[dict[str, str]] | None = None) -> ApiError:
    return ApiError(400, "request.invalid", message, {"fields": fields or []})


def error_response(request: HttpRequest, error: ApiError) -> JsonResponse:
    body = {
        "error": {"code": error.code, "message": error.message, "details": error.details},
        "requestId": getattr(request, "request_id", None),
    }
    response = JsonResponse(body, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response
