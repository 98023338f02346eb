"""What an update looks like in a browser: the HTML fragments htmx's ws extension swaps by id.

One update becomes, per role that may see it, one websocket message of up to two parts (see
`render`), joined by PART_BREAK, which console's live.js parses apart:
- `html`: elements swapped by id (`hx-swap-oob`): the `#live-cursor` marker every page has (it
  carries the update's id, for a reconnect's catch-up, and makes console.js signal regions that
  refresh themselves), status badges, the runtime page's summary, operation progress;
- `rows`: table rows (the feed's, and the runtime and operation lists'). They are parsed apart
  because an HTML parser drops a `<tr>` that follows a `<div>` in one fragment; they travel in
  the same message, since a message per part doubled the work of every socket.

Roles: an update goes to the roles that may read what it is about (API keys: admins only).
Fragments differ by role where the pages do: an operator's row of the organisation-wide runtimes
list has the checkbox of its bulk stop, a viewer's does not.
Updates never carry secrets (the contract says so), and neither do fragments.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.template.loader import render_to_string

from dashboard.accounts.roles import RANK
from dashboard.bctrl import operations as operations_api
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.updates import Update
from dashboard.bctrl.workspaces import get_workspace

# family → the least role that may read it, as its pages say (the families not named here:
# viewer). API keys are an admin's page; this engine writes no update about them, an API may.
LEAST_ROLE = {"api_key": "admin"}
TEMPLATE = "live/fragments.html"
PART_BREAK = "<!--live-part-->"  # static/js/live.js splits a message here


@dataclass(frozen=True)
class Message:
    """What one role's sockets get for one update: swapped-by-id HTML, and table rows."""

    html: str
    rows: str = ""

    def text(self) -> str:
        """The websocket message: both parts, each parsed on its own by the page."""
        return PART_BREAK.join(part for part in (self.html, self.rows) if part.strip())


@dataclass(frozen=True)
class Row:
    """One run as the organisation-wide list shows it."""

    runtime: runtimes_api.Runtime
    workspace_name: str

    @property
    def seconds(self) -> float | None:
        """How long it ran (or has run so far)."""
        if self.runtime.started_at is None:
            return None
        end = self.runtime.stopped_at or datetime.now(UTC)
        return max(0.0, (end - self.runtime.started_at).total_seconds())


@dataclass
class Enriched:
    """The current state of what a batch of updates is about, fetched once for every socket."""

    runtimes: dict[str, runtimes_api.Runtime] = field(default_factory=dict)
    operations: dict[str, operations_api.Operation] = field(default_factory=dict)
    workspace_names: dict[str, str] = field(default_factory=dict)


def family(update: Update) -> str:
    """`vault.entry.created` → `vault`; what a region that refreshes itself listens for."""
    return update.family


def visible(update: Update, role: str) -> bool:
    return RANK[role] >= RANK[LEAST_ROLE.get(update.family, "viewer")]


def subject(update: Update) -> str:
    """The id of the thing the update is about (a runtime's id, an operation's), if it has one."""
    data = update.data
    return str(data.get("runtimeId") or data.get("id") or data.get("key") or data.get("path") or "")


async def enrich(updates: list[Update]) -> Enriched:
    """Fetch the runtimes and operations the updates are about, once each, concurrently.

    A fetch that fails leaves that thing out: its fragments then come from the update alone.
    """
    enriched = Enriched()
    runtime_keys = {
        (u.workspace_id, u.data["alias"], u.data.get("runtimeId"))
        for u in updates
        if u.family == "runtime" and u.workspace_id and u.data.get("alias")
    }
    operation_ids = {str(u.data["id"]) for u in updates if u.family == "operation" and u.data.get("id")}
    # the workspaces whose names rows show: runtimes' and operations' (never a bare UUID in a list)
    workspace_ids = {w for w, _, _ in runtime_keys if w} | {
        u.workspace_id for u in updates if u.family == "operation" and u.workspace_id
    }

    async def runtime(workspace_id: str, alias: str, runtime_id: str | None) -> None:
        try:
            found = await runtimes_api.get_runtime(workspace_id, alias)  # the alias's newest run
        except BctrlError:
            return
        if runtime_id is None or found.id == runtime_id:
            enriched.runtimes[found.id] = found

    async def workspace(workspace_id: str) -> None:
        try:
            enriched.workspace_names[workspace_id] = (await get_workspace(workspace_id)).name
        except BctrlError:
            return

    async def operation(operation_id: str) -> None:
        try:
            enriched.operations[operation_id] = await operations_api.get_operation(operation_id)
        except BctrlError:
            return

    await asyncio.gather(
        *(runtime(w, a, r) for w, a, r in runtime_keys if w),
        *(workspace(w) for w in workspace_ids),
        *(operation(o) for o in operation_ids),
    )
    return enriched


def connection(down_since: float | None, reason: str, live: bool = True) -> str:
    """The relay's state as every page's `#live-connection` marker (static/js/live.js shows the
    banner from it): up, or down since a moment (ISO, UTC) because of `reason`."""
    since = datetime.fromtimestamp(down_since, UTC).isoformat() if down_since is not None else ""
    context = {"down": down_since is not None, "since": since, "reason": reason, "live": live}
    return render_to_string(f"{TEMPLATE}#connection", context)


def render(update: Update, role: str, enriched: Enriched) -> Message:
    context = _context(update, role, enriched)
    return Message(
        html=render_to_string(f"{TEMPLATE}#update", context),
        rows=render_to_string(f"{TEMPLATE}#rows", context),
    )


def _context(update: Update, role: str, enriched: Enriched) -> dict[str, Any]:
    context: dict[str, Any] = {
        "update": update,
        "family": update.family,
        "subject": subject(update),
        "role": role,
        "can_operate": RANK[role] >= RANK["operator"],
        "is_admin": role == "admin",
        "live": True,  # templates shared with pages: "this is a pushed fragment"
    }
    if update.family == "runtime":
        runtime_id = str(update.data.get("runtimeId") or "")
        runtime = enriched.runtimes.get(runtime_id)
        context.update(
            runtime=runtime,
            runtime_id=runtime_id,
            status=runtime.status if runtime else update.type.split(".", 1)[1],
            failure_code=(runtime.failure.code if runtime and runtime.failure else update.data.get("code")),
            stop_reason=runtime.stop_reason if runtime else update.data.get("reason"),
            workspace_id=update.workspace_id,
            alias=update.data.get("alias", ""),
            # the organisation-wide list's row (dashboard/live/runtimes.py)
            org_row=Row(runtime, enriched.workspace_names.get(runtime.workspace_id, "")) if runtime else None,
        )
    elif update.family == "operation":
        operation = enriched.operations.get(str(update.data.get("id") or ""))
        name = enriched.workspace_names.get(operation.workspace_id, "") if operation else ""
        context.update(operation=operation, workspace_name=name)
    return context
