"""Keyset (cursor) pagination over (created_at, id), newest first.

Cursors are opaque: base64 of the last row's sort key. They stay valid while rows are added,
which offset pagination would not.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from engine.errors import invalid

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else str(v) for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != size or not all(isinstance(v, str) for v in values):
        raise invalid(
            "The cursor is not valid.", [{"path": "cursor", "message": "Not a cursor from this list."}]
        )
    return values


async def paginate(
    queryset: "QuerySet[M]",
    limit: int | None,
    cursor: str | None,
    key: tuple[str, str] = ("created_at", "id"),
    descending: bool = True,
) -> tuple[list[M], str | None]:
    """One page of `queryset` ordered by `key`, and the cursor of the next page (or None)."""
    limit = limit or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid(
            f"limit must be between 1 and {MAX_LIMIT}.", [{"path": "limit", "message": "Out of range."}]
        )
    first, second = key
    order = [f"-{first}", f"-{second}"] if descending else [first, second]
    queryset = queryset.order_by(*order)
    if cursor:
        v1, v2 = decode_cursor(cursor, 2)
        op = "lt" if descending else "gt"
        try:
            queryset = queryset.filter(Q(**{f"{first}__{op}": v1}) | Q(**{first: v1, f"{second}__{op}": v2}))
        except (ValueError, TypeError) as exc:
            raise invalid("The cursor is not valid.") from exc
    try:
        rows = [row async for row in queryset[: limit + 1]]
    except (ValueError, TypeError) as exc:  # a forged cursor with values of the wrong type
        raise invalid("The cursor is not valid.") from exc
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, first), getattr(last, second)])
    return rows, next_cursor
