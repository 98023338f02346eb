"""The overview: counts, live runtimes, recent operations and the API connection, as widgets.

Every upstream call runs concurrently and each widget renders its own failure (NetBox style),
so one slow or failing list costs the page one widget, never the page.

What it costs: the counts are one call (this engine's `GET /counts`; against an API without it,
one list page each, as the contract has no totals); live runtimes and their count are one call
(`GET /runtimes?status=active`; one call per busy workspace against an API without it) and one
call per workspace they run in, to name it. While this process's updates relay is connected (any
open console page keeps it so), each widget's answer is kept until an update that could change
it arrives (dashboard/live/snapshots.py): a warm overview makes no upstream call at all. With the
relay down, every widget asks the API.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.bctrl import ai_credentials, extensions, meta, operations, profiles, runtimes, vault
from dashboard.bctrl import workspaces as workspaces_api
from dashboard.bctrl.errors import BctrlError, Unavailable, UnexpectedAnswer
from dashboard.bctrl.meta import COUNT_LIMIT, Tally
from dashboard.bctrl.pages import Page
from dashboard.bctrl.workspaces import Workspace
from dashboard.live.relay import running_relay
from dashboard.live.snapshots import Snapshots
from dashboard.pages import HtmxHttpRequest, render_page, settle

RECENT_OPERATIONS = 10
LIVE_ROWS = 20  # live runtimes shown; the rest are counted and linked
# Against an API without the organisation-wide runtime list, live runtimes come from one call
# per workspace that has any; cap the fan-out so a busy organisation costs a bounded number.
LIVE_WORKSPACES = 8
LIVE_PER_WORKSPACE = 10


@dataclass(frozen=True)
class Count:
    label: str
    tally: Tally | None
    error: BctrlError | None
    url_name: str


@dataclass(frozen=True)
class Counts:
    cards: list[Count]

    @property
    def first_error(self) -> BctrlError | None:
        """The failure worth a retry; a list the API does not offer is a state, shown on its card."""
        return next((card.error for card in self.cards if card.error and not card.error.not_offered), None)


@dataclass(frozen=True)
class LiveRuntimes:
    rows: list[tuple[Workspace, runtimes.Runtime]]
    failures: list[tuple[Workspace, BctrlError]]
    more_workspaces: int  # workspaces with live runtimes beyond the cap (per-workspace fallback)
    more_runtimes: Tally | None = None  # live runtimes beyond LIVE_ROWS


class Lists:
    """The list calls several widgets share, each made at most once per page, when first needed."""

    def __init__(self) -> None:
        self._calls: dict[str, asyncio.Task[Any]] = {}

    def _once(self, name: str, call: Callable[[], Awaitable[Any]]) -> "asyncio.Task[Any]":
        if name not in self._calls:
            self._calls[name] = asyncio.ensure_future(settle(call()))
        return self._calls[name]

    def workspaces(self) -> "asyncio.Task[Page[Workspace] | BctrlError]":
        return self._once("workspaces", lambda: workspaces_api.list_workspaces(limit=COUNT_LIMIT))

    def active_runtimes(self) -> "asyncio.Task[Page[runtimes.Runtime] | BctrlError]":
        return self._once("active", lambda: runtimes.list_every_runtime(status="active", limit=COUNT_LIMIT))


def _tally(page: Any) -> Tally | BctrlError:
    return page if isinstance(page, BctrlError) else Tally(len(page.items), page.next_cursor is not None)


async def _counts(lists: Lists) -> Counts:
    """One card per resource: from the API's counts when it offers them, else by listing."""
    totals = await settle(meta.totals())
    if isinstance(totals, BctrlError):  # the API failed: every card says so (and is asked again)
        return Counts([Count(label, None, totals, url) for label, _, url in CARDS])
    return _counted(totals) if totals is not None else await _listed(lists)


# (label, the count's name in meta.Totals, the page it links to)
CARDS = [
    ("Workspaces", "workspaces", "workspaces"),
    ("Active runtimes", "active_runtimes", "workspaces"),
    ("Browser profiles", "profiles", "profiles"),
    ("Extensions", "extensions", "extensions"),
    ("Vault entries", "vault_entries", "vault"),
    ("AI credentials", "ai_credentials", "ai_credentials"),
]


def _counted(totals: meta.Totals) -> Counts:
    cards = []
    for label, name, url in CARDS:
        value = getattr(totals, name)
        missing = (
            UnexpectedAnswer(502, "api.unexpected_answer", f"The API's counts did not include “{name}”.")
            if value is None
            else None
        )
        cards.append(Count(label, None if value is None else Tally(value, False), missing, url))
    return Counts(cards)


async def _listed(lists: Lists) -> Counts:
    """One card per resource: the size of its first page of COUNT_LIMIT ("500+" when it goes on)."""
    listed = await asyncio.gather(
        settle(profiles.list_profiles(limit=COUNT_LIMIT)),
        settle(extensions.list_extensions(limit=COUNT_LIMIT)),
        settle(vault.list_entries(limit=COUNT_LIMIT)),
        settle(ai_credentials.list_credentials(limit=COUNT_LIMIT)),
        lists.workspaces(),
        lists.active_runtimes(),
    )
    page, active_page = listed[4], listed[5]
    active: Tally | BctrlError
    if not isinstance(active_page, BctrlError) or not active_page.not_offered:
        active = _tally(active_page)
    elif isinstance(page, BctrlError):
        active = page
    else:
        # a sum over the first page only: "+" when more workspaces may hold more runtimes
        active = Tally(sum(w.active_runtime_count for w in page.items), page.next_cursor is not None)
    named = [
        ("Workspaces", _tally(page), "workspaces"),
        ("Active runtimes", active, "workspaces"),
        ("Browser profiles", _tally(listed[0]), "profiles"),
        ("Extensions", _tally(listed[1]), "extensions"),
        ("Vault entries", _tally(listed[2]), "vault"),
        ("AI credentials", _tally(listed[3]), "ai_credentials"),
    ]
    return Counts(
        [
            Count(
                label, None if isinstance(t, BctrlError) else t, t if isinstance(t, BctrlError) else None, url
            )
            for label, t, url in named
        ]
    )


async def _live(lists: Lists) -> LiveRuntimes | BctrlError:
    active = await lists.active_runtimes()
    if isinstance(active, BctrlError) and active.not_offered:
        return await _live_per_workspace(await lists.workspaces())
    if isinstance(active, BctrlError):
        return active
    shown = active.items[:LIVE_ROWS]
    # the workspaces of the rows shown, each asked for by id once (none when nothing runs): a
    # list of every workspace only to name a few rows would cost the page its slowest call
    ids = sorted({r.workspace_id for r in shown})
    found = await asyncio.gather(*(settle(workspaces_api.get_workspace(w)) for w in ids))
    named = {w.id: w for w in found if not isinstance(w, BctrlError)}
    # a workspace not found by id was deleted since: its runtime is gone with it
    rows = [(named[r.workspace_id], r) for r in shown if r.workspace_id in named]
    more = Tally(len(active.items) - len(shown), active.next_cursor is not None)
    return LiveRuntimes(rows, [], 0, more if more.count or more.more else None)


async def _live_per_workspace(page: Page[Workspace] | BctrlError) -> LiveRuntimes | BctrlError:
    if isinstance(page, BctrlError):
        return page
    busy = [w for w in page.items if w.active_runtime_count]
    shown = busy[:LIVE_WORKSPACES]
    pages = await asyncio.gather(
        *(settle(runtimes.list_runtimes(w.id, status="active", limit=LIVE_PER_WORKSPACE)) for w in shown)
    )
    rows, failures = [], []
    for workspace, result in zip(shown, pages, strict=True):
        if isinstance(result, BctrlError):
            failures.append((workspace, result))
        else:
            rows += [(workspace, runtime) for runtime in result.items]
    return LiveRuntimes(rows, failures, len(busy) - len(shown))


async def _connection(_: Lists) -> meta.Connection | BctrlError:
    connection, limits = await asyncio.gather(settle(meta.connection()), settle(meta.limits()))
    if isinstance(connection, BctrlError) or isinstance(limits, BctrlError):
        return connection  # an API without the limits route says nothing about isolation
    return replace(connection, isolation=limits.isolation, runtimes_allowed=limits.runtimes_allowed)


async def _operations(_: Lists) -> Page[operations.Operation] | BctrlError:
    return await settle(operations.list_operations(limit=RECENT_OPERATIONS))


@dataclass(frozen=True)
class Widget:
    load: Callable[[Lists], Awaitable[Any]]
    families: frozenset[str]  # the update families that can change what it shows


WIDGETS: dict[str, Widget] = {
    # who the key is changes with no update; the kept answer's age bounds it (snapshots.py)
    "health": Widget(_connection, frozenset()),
    "counts": Widget(
        _counts,
        frozenset({"workspace", "runtime", "browser_profile", "browser_extension", "vault", "ai_credential"}),
    ),
    "live": Widget(_live, frozenset({"workspace", "runtime"})),
    "operations": Widget(_operations, frozenset({"operation"})),
}


def _whole(answer: Any) -> bool:
    """Worth keeping: no part of it failed (a failure is asked again on the next page)."""
    if isinstance(answer, BctrlError):
        return False
    if isinstance(answer, Counts):
        return all(card.error is None or card.error.not_offered for card in answer.cards)
    if isinstance(answer, LiveRuntimes):
        return not answer.failures
    return True


async def _widgets(names: list[str], snapshots: Snapshots | None) -> list[Any]:
    """Each widget's answer: kept by the relay's snapshots when current, else from the API."""
    kept = {name: snapshots.get(f"overview.{name}") if snapshots else None for name in names}
    missing = [name for name in names if kept[name] is None]
    ticket = snapshots.ticket() if snapshots else None
    lists = Lists()
    fetched = await asyncio.gather(*(WIDGETS[name].load(lists) for name in missing))
    for name, answer in zip(missing, fetched, strict=True):
        kept[name] = answer
        if snapshots and _whole(answer):
            snapshots.keep(f"overview.{name}", WIDGETS[name].families, ticket, answer)
    return [kept[name] for name in names]


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def overview(request: HtmxHttpRequest) -> HttpResponse:
    region = request.GET.get("region")
    names = [region] if request.htmx and region in WIDGETS else list(WIDGETS)
    relay = running_relay()
    results = await _widgets(names, relay.snapshots if relay else None)
    context: dict[str, Any] = dict(zip(names, results, strict=True))
    health, recent = context.get("health"), context.get("operations")
    if isinstance(health, Unavailable) and isinstance(recent, Unavailable):
        # Two independent calls failed the same way: the API is down (or unreachable), not one
        # route slow. Every widget would say so again and the counts would read "unavailable":
        # one message and one Retry instead, and nothing that looks like data.
        context = {"down": health}
    return render_page(request, "front/overview.html", context, region=names[0] if len(names) == 1 else None)


urlpatterns = [path("", overview, name="overview")]
