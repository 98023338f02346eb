"""What every list call returns, read defensively, and timestamp parsing.

The console must work against any BCTRL v1 API, not only this project's engine: a list
response that lacks its key, or holds items the console cannot read, is a BctrlError that
says so (shown in place like any upstream failure), never a KeyError that becomes a 500.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from dashboard.bctrl.errors import UnexpectedAnswer

T = TypeVar("T")


# A cursor the console made, paging a list the API sent whole: "console:50" is the 51st item.
CONSOLE_CURSOR = "console:"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list. `fetched` is how many items the API sent, set when the console filtered
    or cut them itself (the public lists take no query and have no pages): pages say "N of M"."""

    items: list[T]
    next_cursor: str | None
    fetched: int | None = None

    def where(self, keep: Callable[[T], bool]) -> "Page[T]":
        """The items `keep` accepts, same cursor: a filter the console applies itself, for a
        query parameter an API may ignore (its pages may then come back short, never wrong)."""
        kept = [item for item in self.items if keep(item)]
        return Page(kept, self.next_cursor, self._fetched if len(kept) < len(self.items) else self.fetched)

    def newest_first(self, created_at: Callable[[T], datetime | None]) -> "Page[T]":
        """Ordered newest first by the console (this engine already lists so; the public API
        promises no order). Items without a time go last."""

        def when(item: T) -> datetime:
            moment = created_at(item) or _NEVER
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

        dated = sorted(self.items, key=when, reverse=True)
        return Page(dated, self.next_cursor, self.fetched)

    def window(self, limit: int, offset: int = 0) -> "Page[T]":
        """At most `limit` items from `offset`: the console pages a list the API sent whole (it
        sent more than it was asked for). A list the API paged itself passes unchanged."""
        if offset == 0 and len(self.items) <= limit:
            return self
        shown = self.items[offset : offset + limit]
        more = offset + limit < len(self.items)
        return Page(shown, f"{CONSOLE_CURSOR}{offset + limit}" if more else None, self._fetched)

    @property
    def _fetched(self) -> int:
        return len(self.items) if self.fetched is None else self.fetched


_NEVER = datetime.min.replace(tzinfo=UTC)


def split_cursor(cursor: str | None) -> tuple[str | None, int]:
    """(the cursor to send the API, the console's own offset): a console cursor is never sent."""
    if cursor and cursor.startswith(CONSOLE_CURSOR):
        offset = cursor.removeprefix(CONSOLE_CURSOR)
        return None, int(offset) if offset.isdigit() else 0
    return cursor, 0


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
