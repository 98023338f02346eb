"""The v1 API object: one NinjaAPI, one router per resource group, the contract's error body.

Built here and only here, imported by `engine.urls`: importing a route module (or anything
below the API) never builds the API, so modules can be imported and tested on their own.
"""

from typing import Any

from ninja import NinjaAPI

from engine.api import (
    ai_credentials,
    api_keys,
    artifacts,
    embeds,
    errors,
    events,
    execute,
    extensions,
    meta,
    operations,
    profiles,
    runtimes,
    storage,
    updates,
    usage,
    vault,
    workspaces,
)
from engine.api.auth import ApiKeyAuth

ERROR_STATUSES = ("400", "401", "403", "404", "405", "409", "410", "413", "429", "500", "503")


class BctrlApi(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        # Every operation can answer with the contract's error body; say so once, here.
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorBody"] = errors.ERROR_SCHEMA
        for path in schema.get("paths", {}).values():
            for operation in path.values():
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


api = BctrlApi(
    title="BCTRL v1 API (engine)",
    version="1.0.0",
    description="The self-hosted BCTRL engine. Reference: docs/api.md in its repository.",
    auth=ApiKeyAuth(),
    urls_namespace="v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)

api.add_router("", meta.router)
api.add_router("/workspaces", workspaces.router)
api.add_router("/workspaces", runtimes.router)
api.add_router("/workspaces", execute.router)
api.add_router("/workspaces", events.router)
api.add_router("/workspaces", embeds.router)
api.add_router("/workspaces", operations.workspace_router)
api.add_router("/workspaces", artifacts.workspace_router)
api.add_router("/runtimes", runtimes.org_router)
api.add_router("/runtimes", events.runtime_router)
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
