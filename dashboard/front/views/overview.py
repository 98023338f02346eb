"""The overview: counts, live runtimes, recent operations and the API connection, as widgets.

Every upstream call runs concurrently and each widget renders its own failure (NetBox style),
so one slow or failing list costs the page one widget, never the page.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.bctrl import ai_credentials, extensions, meta, operations, profiles, runtimes, vault
from dashboard.bctrl import workspaces as workspaces_api
from dashboard.bctrl.errors import BctrlError, Unavailable
from dashboard.bctrl.meta import COUNT_LIMIT, Tally
from dashboard.bctrl.pages import Page
from dashboard.bctrl.workspaces import Workspace
from dashboard.pages import HtmxHttpRequest, render_page, settle

RECENT_OPERATIONS = 10
# Live runtimes come from one call per workspace that has any; cap the fan-out so a busy
# organisation costs the overview a bounded number of calls.
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
    more_workspaces: int  # workspaces with live runtimes beyond the cap


def _tally(page: Any) -> Tally | BctrlError:
    return page if isinstance(page, BctrlError) else Tally(len(page.items), page.next_cursor is not None)


async def _counts(workspaces: "asyncio.Task[Page[Workspace] | BctrlError]") -> Counts:
    """One card per resource: the size of its first page of COUNT_LIMIT ("500+" when it goes on)."""
    listed = await asyncio.gather(
        settle(profiles.list_profiles(limit=COUNT_LIMIT)),
        settle(extensions.list_extensions(limit=COUNT_LIMIT)),
        settle(vault.list_entries(limit=COUNT_LIMIT)),
        settle(ai_credentials.list_credentials(limit=COUNT_LIMIT)),
    )
    page = await workspaces
    active: Tally | BctrlError = (
        page
        if isinstance(page, BctrlError)
        # a sum over the first page only: "+" when more workspaces may hold more runtimes
        else Tally(sum(w.active_runtime_count for w in page.items), page.next_cursor is not None)
    )
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


async def _live(workspaces: "asyncio.Task[Page[Workspace] | BctrlError]") -> LiveRuntimes | BctrlError:
    page = await workspaces
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


async def _connection(_: object) -> meta.Connection | BctrlError:
    return await settle(meta.connection())


async def _operations(_: object) -> Page[operations.Operation] | BctrlError:
    return await settle(operations.list_operations(limit=RECENT_OPERATIONS))


# widget name → its loader; counts and live runtimes share one workspace list call
WIDGETS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "health": _connection,
    "counts": _counts,
    "live": _live,
    "operations": _operations,
}


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def overview(request: HtmxHttpRequest) -> HttpResponse:
    region = request.GET.get("region")
    names = [region] if request.htmx and region in WIDGETS else list(WIDGETS)
    workspaces = None
    if {"counts", "live"} & set(names):
        workspaces = asyncio.ensure_future(settle(workspaces_api.list_workspaces(limit=COUNT_LIMIT)))
    results = await asyncio.gather(*(WIDGETS[name](workspaces) for name in names))
    context: dict[str, Any] = dict(zip(names, results, strict=True))
    health, recent = context.get("health"), context.get("operations")
    if isinstance(health, Unavailable) and isinstance(recent, Unavailable):
        # Two independent calls failed the same way: the API is down (or unreachable), not one
        # route slow. Every widget would say so again and the counts would read "unavailable":
        # one message and one Retry instead, and nothing that looks like data.
        context = {"down": health}
    return render_page(request, "front/overview.html", context, region=names[0] if len(names) == 1 else None)


urlpatterns = [path("", overview, name="overview")]
