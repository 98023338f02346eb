"""Schemas and helpers every resource module shares."""

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import BaseModel, PlainSerializer

from engine.errors import ApiError
from engine.wire import iso

Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]


class ErrorDetail(Schema):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorBody(Schema):
    error: ErrorDetail
    requestId: str | None = None


class NoContent(Schema):
    pass


def parse_uuid(value: str, code: str, what: str) -> str:
    """A path id that is not a UUID names nothing: 404, like any unknown id."""
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ApiError(404, code, f"{what} does not exist.") from exc


# Output schemas built from dicts derive from pydantic's BaseModel, not ninja's Schema: ninja's
# wraps every nested object in a getter (for ORM attribute access we never use), which made a
# 500-row list spend ~35 ms validating (bench/console_pages.py).


def to_json(schema: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` against an output schema and dump it as the wire JSON."""
    return schema.model_validate(data).model_dump(mode="json")
