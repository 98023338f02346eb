"""Types and helpers every resource module shares."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from ninja import Path
from pydantic import BaseModel, PlainSerializer

from engine.errors import invalid, not_found
from engine.wire import iso

Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]


def parse_uuid(value: str, code: str, what: str) -> str:
    """A path id that is not a UUID names nothing: 404, like any unknown id."""
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise not_found(code, what) from exc


# Output schemas built from dicts derive from pydantic's BaseModel, not ninja's Schema: ninja's
# wraps every nested object in a getter (for ORM attribute access we never use), which made a
# 500-row list spend ~35 ms validating (bench/console_pages.py).


def patched_fields(payload: BaseModel, *not_null: str) -> dict[str, Any]:
    """The fields a PATCH body sets; 400 request.invalid when it sets one of `not_null` to null
    (leaving a field out keeps it; null would clear what may not be empty)."""
    changed = payload.model_dump(exclude_unset=True)
    for name in not_null:
        if name in changed and changed[name] is None:
            raise invalid(f"{name} cannot be null.", [{"path": name, "message": "May not be null."}])
    return changed


def to_json(schema: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` against an output schema and dump it as the wire JSON."""
    return schema.model_validate(data).model_dump(mode="json")


# Path parameters, named on the wire as the contract names them (`/workspaces/{workspaceId}`).
# Ids are strings here, not UUIDs: an id that is not a UUID names nothing, so it is a 404 with
# the resource's code (parse_uuid), not a 400.
WorkspaceId = Annotated[str, Path(alias="workspaceId", description="A workspace id (UUID).")]
RuntimeId = Annotated[str, Path(alias="runtimeId", description="A runtime id (UUID): one run of an alias.")]
OperationId = Annotated[str, Path(alias="operationId", description="An operation id (UUID).")]
ProfileId = Annotated[str, Path(alias="profileId", description="A browser profile id (UUID).")]
ExtensionId = Annotated[str, Path(alias="extensionId", description="A browser extension id (UUID).")]
ArtifactId = Annotated[str, Path(alias="artifactId", description="An artifact id (UUID).")]
ApiKeyId = Annotated[str, Path(alias="apiKeyId", description="An API key id (UUID).")]
CredentialId = Annotated[
    str, Path(alias="credentialId", description="An AI credential id, chosen at creation.")
]
