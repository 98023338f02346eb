"""The v1 API: one NinjaAPI, one router per resource group, the contract's error body."""

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.constants import NOT_SET
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.operation import Operation

from engine.api.auth import ADMIN, KeyAuth
from engine.api.errors import ApiError, error_response

logger = logging.getLogger("engine.api")


class BctrlApi(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        # Every operation can answer with the contract's error body; say so once, here.
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = ERROR_SCHEMA
        scopes = {self.get_openapi_operation_id(op): scope for op, scope in declared_scopes(self)}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                # The scope a key needs for this operation, as its route declares it.
                operation["x-bctrl-scope"] = scopes[operation["operationId"]]
                responses = operation.setdefault("responses", {})
                for status in ("400", "401", "403", "404", "409", "410", "413", "429", "500", "503"):
                    responses.setdefault(
                        status,
                        {
                            "description": "Error",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                            },
                        },
                    )
        return schema


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

api = BctrlApi(
    title="BCTRL v1 API (engine)",
    version="1.0.0",
    description="The self-hosted BCTRL engine. Contract: shared/api/bctrl-v1.md.",
    auth=ADMIN,  # never used: every route declares its own (checked by _check_scopes below)
    urls_namespace="v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(request, exc)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ())]
        # ninja prefixes the source ("body", "query", "path") and the parameter name.
        if location and location[0] in ("body", "query", "path", "header", "form", "file"):
            location = location[1:]
            if len(location) > 1 and location[0] in ("payload", "body", "filters", "query"):
                location = location[1:]
        fields.append({"path": ".".join(location) or "body", "message": error.get("msg", "Invalid.")})
    names = ", ".join(f["path"] for f in fields[:5])
    return error_response(
        request, ApiError(400, "request.invalid", f"The request is not valid: {names}.", {"fields": fields})
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request, ApiError(401, "auth.required", "Send a valid API key as 'Authorization: Bearer <key>'.")
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, ApiError(404, "request.not_found", "No such resource or route."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {
        400: "request.invalid",
        401: "auth.required",
        403: "auth.forbidden",
        404: "request.not_found",
    }.get(exc.status_code, "request.invalid" if exc.status_code < 500 else "server.error")
    return error_response(request, ApiError(exc.status_code, code, str(exc.message)))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(
        request,
        ApiError(500, "server.error", "The engine failed to handle this request; it has been logged."),
    )


def _register() -> None:
    from engine.api import (
        ai_credentials,
        artifacts,
        events,
        execute,
        extensions,
        meta,
        operations,
        profiles,
        runtimes,
        storage,
        updates,
        vault,
        workspaces,
    )

    api.add_router("", meta.router)
    api.add_router("/workspaces", workspaces.router)
    api.add_router("/workspaces", runtimes.router)
    api.add_router("/workspaces", execute.router)
    api.add_router("/workspaces", events.router)
    api.add_router("/workspaces", operations.workspace_router)
    api.add_router("/workspaces", artifacts.workspace_router)
    api.add_router("/operations", operations.router)
    api.add_router("/updates", updates.router)
    api.add_router("/browser-profiles", profiles.router)
    api.add_router("/browser-extensions", extensions.router)
    api.add_router("/storage", storage.router)
    api.add_router("/artifacts", artifacts.router)
    api.add_router("/vault", vault.router)
    api.add_router("/ai-credentials", ai_credentials.router)


def declared_scopes(ninja_api: NinjaAPI) -> list[tuple[Operation, str]]:
    """Every operation with the scope its route declared (`auth=READ|OPERATOR|ADMIN`)."""
    found = []
    for _prefix, router in ninja_api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                auth = operation.auth_param
                callbacks = list(auth) if isinstance(auth, list | tuple) else [auth]
                if auth is NOT_SET or len(callbacks) != 1 or not isinstance(callbacks[0], KeyAuth):
                    raise ImproperlyConfigured(
                        f"{operation.methods} {path} declares no scope: give its route auth=READ, OPERATOR or ADMIN."
                    )
                found.append((operation, callbacks[0].scope))
    return found


_register()
declared_scopes(api)  # a route without a declared scope stops the engine at import
