"""The v1 API object: one NinjaAPI, one router per resource group, the contract's error body.

Built here and only here, imported by `engine.urls`: importing a route module (or anything
below the API) never builds the API, so modules can be imported and tested on their own.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.constants import NOT_SET
from ninja.operation import Operation
from ninja.renderers import JSONRenderer
from pydantic_core import to_json

from engine.api import (
    ai_credentials,
    api_keys,
    artifacts,
    cdp,
    embeds,
    errors,
    events,
    execute,
    extensions,
    meta,
    network,
    operations,
    profiles,
    recordings,
    runtimes,
    storage,
    updates,
    usage,
    vault,
    workspaces,
)
from engine.api.auth import ADMIN, KeyAuth

ERROR_STATUSES = ("400", "401", "403", "404", "405", "409", "410", "413", "429", "500", "503")
# As the public BCTRL reference names them, so a client generated from either document is the same.
SECURITY_SCHEME = "bearerAuth"
SERVERS = [
    {"url": "https://api.bctrl.ai", "description": "The hosted BCTRL service"},
    {"url": "http://localhost:8787", "description": "This engine on its default address"},
]


class JsonRenderer(JSONRenderer):
    """Bodies encoded by pydantic-core (Rust) rather than the json module: the same JSON (ids and
    timestamps as strings), in a fraction of the json module's time on a 50-row list."""

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        # Anything pydantic-core does not know goes through ninja's own encoder: the same JSON as ninja's.
        return to_json(data, fallback=self.encoder_class().default)


class BctrlApi(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        # Every operation can answer with the contract's error body; say so once, here.
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = errors.ERROR_SCHEMA
        components = schema.setdefault("components", {})
        components["securitySchemes"] = {
            SECURITY_SCHEME: {"type": "http", "scheme": "bearer", "description": "Use Bearer <api-key>."}
        }
        scopes = {self.operation_id(op): scope for op, scope in declared_scopes(self)}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                # The scope a key needs for this operation, as its route declares it.
                operation["x-bctrl-scope"] = scopes[operation["operationId"]]
                if "security" in operation:  # ninja names the scheme after its class (KeyAuth)
                    operation["security"] = [{SECURITY_SCHEME: []}]
                responses = operation.setdefault("responses", {})
                for status in ERROR_STATUSES:
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

    def operation_id(self, operation: Operation) -> str:
        # Routes name theirs (`operation_id=`, the public reference's where it has one); one that
        # forgets gets ninja's `engine_api_<module>_<function>`, which test_public_reference refuses.
        return operation.operation_id or self.get_openapi_operation_id(operation)


api = BctrlApi(
    title="BCTRL v1 API (engine)",
    version="1.0.0",
    description="The self-hosted BCTRL engine. Reference: docs/api.md in its repository.",
    auth=ADMIN,  # never reached: every route declares its own scope (declared_scopes checks)
    urls_namespace="v1",
    renderer=JsonRenderer(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    servers=SERVERS,
)
errors.install(api)

api.add_router("", meta.router)
api.add_router("/workspaces", workspaces.router)
api.add_router("/workspaces", runtimes.router)
api.add_router("/workspaces", execute.router)
api.add_router("/workspaces", events.router)
api.add_router("/workspaces", embeds.router)
api.add_router("/live-control", embeds.control_router)
api.add_router("/workspaces", cdp.router)
api.add_router("/workspaces", operations.workspace_router)
api.add_router("/workspaces", artifacts.workspace_router)
api.add_router("/runtimes", runtimes.org_router)
api.add_router("/runtimes", events.runtime_router)
api.add_router("/runtimes", network.router)
api.add_router("/runtimes", embeds.runtime_router)
api.add_router("/runtimes", recordings.router)
api.add_router("/usage", usage.router)
api.add_router("/api-keys", api_keys.router)
api.add_router("/operations", operations.router)
api.add_router("/updates", updates.router)
api.add_router("/browser-profiles", profiles.router)
api.add_router("/browser-extensions", extensions.router)
api.add_router("/storage", storage.router)
api.add_router("/artifacts", artifacts.router)
api.add_router("/vault", vault.router)
api.add_router("/ai-credentials", ai_credentials.router)


def declared_scopes(ninja_api: NinjaAPI) -> list[tuple[Operation, str]]:
    """Every operation with the scope its route declared (`auth=READ|OPERATOR|ADMIN`, engine.api.auth)."""
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


declared_scopes(api)  # a route without a declared scope stops the engine at import
