"""The engine's domain errors: what went wrong, in the contract's words, with no HTTP in sight.

Every module below the API raises `ApiError` for a failure its caller can act on. It carries the
contract's status and stable dotted code (the contract pairs them: `runtime.alias_in_use` is a
409 wherever it happens), a sentence saying what happened and what to do, and optional details.
Turning it into a response body is the API's job (`engine.api.errors`), done in one place; step
failures reuse the code and message (`engine.steps.executor`).
"""

from typing import Any


class ApiError(Exception):
    """A failure reported to the API's caller: a status, a stable dotted code, a sentence."""

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
    """400 request.invalid naming each bad field as {path, message}."""
    return ApiError(400, "request.invalid", message, {"fields": fields or []})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "auth.forbidden", message)
