"""What every list call returns, read defensively, and timestamp parsing.

The console must work against any BCTRL v1 API, not only this project's engine: a list
response that lacks its key, or holds items the console cannot read, is a BctrlError that
says so (shown in place like any upstream failure), never a KeyError that becomes a 500.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from dashboard.bctrl.errors import UnexpectedAnswer

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None

    def where(self, keep: Callable[[T], bool]) -> "Page[T]":
        """The items `keep` accepts, same cursor: a filter the console applies itself, for a
        query parameter an API may ignore (its pages may then come back short, never wrong)."""
        return Page([item for item in self.items if keep(item)], self.next_cursor)


def items_of(body: Any, key: str, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    """`body[key]` parsed item by item; an answer without the list is a clear BctrlError."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise UnexpectedAnswer(
            502, "api.unexpected_answer", f"The API answered without the list “{key}” the console asked for."
        )
    try:
        return [parse(item) for item in items]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnexpectedAnswer(
            502, "api.unexpected_answer", f"The API answered with “{key}” the console cannot read ({exc!r})."
        ) from exc


def one_of(body: Any, parse: Callable[[dict[str, Any]], T], what: str) -> T:
    """A single resource's body parsed; one the console cannot read is a clear BctrlError."""
    try:
        return parse(body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnexpectedAnswer(
            502, "api.unexpected_answer", f"The API answered with a {what} the console cannot read ({exc!r})."
        ) from exc


def page_of(body: Any, key: str, parse: Callable[[dict[str, Any]], T]) -> Page[T]:
    """A list response (`{key: [...], nextCursor}`) as a typed page."""
    cursor = body.get("nextCursor") if isinstance(body, dict) else None
    return Page(items_of(body, key, parse), str(cursor) if cursor else None)


def name_contains(name: str, q: str) -> bool:
    """The engine's `q` (name contains, ignoring case), for lists the console filters itself."""
    return q.casefold() in name.casefold()


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
