"""The console's websockets. Consumers check who is there, join and leave groups, catch a
reconnecting browser up, and forward what the relay and the pollers already rendered.

- `/ws/updates/?after=N`: every page's socket (base.html). Joins this process's group of the
  user's role (role filtering happens where fragments are rendered, once per role) and the
  user's own group (closed when the user signs out or is deactivated, in any process).
- `/ws/runtimes/{workspaceId}/{alias}/events/?after=P&skip=N`: the runtime page's live inspector, and
  who has control of the runtime's browser.

Close codes: 4401 not signed in (or signed out meanwhile), 4403 no role, 4400 an inspector's
position the API refuses; a foreign origin is refused at the handshake.
"""

import asyncio
import logging
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.sessions.backends.base import SessionBase

from dashboard.accounts.roles import role_of
from dashboard.bctrl import acting
from dashboard.bctrl import events as events_api
from dashboard.bctrl import updates as updates_api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.events import Event
from dashboard.live import fragments, metrics
from dashboard.live.inspector import (
    Requests,
    SeenIds,
    control_group,
    get_pollers,
    render_events,
    runtime_group,
)
from dashboard.live.relay import get_relay, role_group, user_group
from dashboard.pages import toast_html

logger = logging.getLogger("dashboard.live")

SESSION_CHECK_SECONDS = 30.0
CATCH_UP_MAX = 2_000  # updates a reconnecting page may have missed before it is told to reload
CATCH_UP_PAGES = 4  # of 500 events: what a runtime page's socket reads of what it missed
MAX_POSITION = 500  # characters of an API position a socket may name


class SignedInConsumer(AsyncWebsocketConsumer):
    """A socket of a signed-in user holding a role; re-checked while it stays open."""

    role: str | None = None
    user_id: int | None = None
    checker: asyncio.Task[None] | None = None
    kind = ""  # its label in bctrl_console_websockets

    async def admit(self) -> bool:
        user: AbstractBaseUser | AnonymousUser | None = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(4401)
            return False
        self.role = await database_sync_to_async(role_of)(user)
        if self.role is None:
            await self._refuse(4403)
            return False
        self.user_id = user.pk
        metrics.WEBSOCKETS.labels(self.kind).inc()
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        self.checker = asyncio.get_running_loop().create_task(self._check_session())
        return True

    async def _refuse(self, code: int) -> None:
        """Accepted, then closed with a code that says why: a refused handshake would be a console
        error in the browser (a page whose session just ended), and the ws extension does not
        reconnect after a 44xx close."""
        await self.accept()
        await self.close(code=code)

    async def _check_session(self) -> None:
        """Close when the session ended (expired, signed out elsewhere) or the role changed."""
        while True:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            if not await database_sync_to_async(self._still_valid)():
                await self.close(code=4401)
                return

    def _still_valid(self) -> bool:
        from django.contrib.auth import get_user_model

        scoped: SessionBase | None = self.scope.get("session")
        key = scoped.session_key if scoped is not None else None
        store = import_module(settings.SESSION_ENGINE).SessionStore
        # read afresh from the session store: the scope's copy is what it was at connect
        if key is None or str(store(key).get(SESSION_KEY)) != str(self.user_id):
            return False
        user = get_user_model().objects.filter(pk=self.user_id or 0).first()
        return user is not None and role_of(user) == self.role

    async def live_close(self, event: dict[str, Any]) -> None:
        """The user signed out or was deactivated (dashboard/live/apps.py)."""
        await self.close(code=4401)

    async def disconnect(self, code: int) -> None:
        if self.checker is not None:
            self.checker.cancel()
        if self.user_id is not None:
            metrics.WEBSOCKETS.labels(self.kind).dec()
            await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
            self.user_id = None


def _after(scope: dict[str, Any]) -> int | None:
    raw = parse_qs(scope.get("query_string", b"").decode()).get("after", [""])[0]
    return int(raw) if raw.isdigit() else None


class UpdatesConsumer(SignedInConsumer):
    kind = "updates"
    sent_through = 0
    subscribed = False

    async def connect(self) -> None:
        if not await self.admit():
            return
        assert self.role is not None
        relay = get_relay()
        # Join before catching up: what the relay sends meanwhile waits in this channel, and
        # whatever the catch-up already sent is skipped by id.
        await self.channel_layer.group_add(role_group(self.role), self.channel_name)
        relay.subscribe()
        self.subscribed = True
        await self.accept()
        if relay.down_since is not None:
            # the page may have been drawn while the stream was up: it learns now, not at the next change
            await relay.announce(self.channel_name)
        after = _after(self.scope)
        # The relay delivers what comes after its position; the catch-up must reach at least that
        # far, so it starts only once the relay knows where it is (a relay that has just been
        # started reads its position from the API after this socket opened, and anything made in
        # between would fall into the gap).
        position = await relay.position()
        if after is None:
            self.sent_through = position or 0
        else:
            self.sent_through = after
            with acting.acting_as(self.role):  # this user's reads (the relay acts for nobody)
                await self._catch_up(after)

    async def _catch_up(self, after: int) -> None:
        """Send what this browser missed since `after` (it reconnected, or its page is older)."""
        assert self.role is not None
        missed: list[updates_api.Update] = []
        try:
            while len(missed) < CATCH_UP_MAX:
                page, more = await updates_api.list_updates(self.sent_through, limit=500)
                missed.extend(page)
                if not page or page[-1].id is None:  # nothing more, or nothing to go on from
                    break
                self.sent_through = page[-1].id
                if not more:
                    break
        except BctrlError as error:
            logger.info("Catch-up after %s failed: %s", after, error.code)
        if len(missed) >= CATCH_UP_MAX:
            await self.send(text_data=_notice("Too much happened while this page was away: reload it."))
            return
        enriched = await fragments.enrich(missed)
        for update in missed:
            if fragments.visible(update, self.role):
                await self.send(text_data=fragments.render(update, self.role, enriched).text())

    async def live_update(self, event: dict[str, Any]) -> None:
        if event["id"] is not None:  # an API that numbers its updates (the public one does not)
            if event["id"] <= self.sent_through:
                return  # the catch-up sent it already
            self.sent_through = event["id"]
        await self.send(text_data=event["text"])

    async def live_connection(self, event: dict[str, Any]) -> None:
        """The relay came up or went down (relay.py `announce`): the page's banner follows."""
        await self.send(text_data=event["text"])

    async def disconnect(self, code: int) -> None:
        if self.role is not None:
            await self.channel_layer.group_discard(role_group(self.role), self.channel_name)
        if self.subscribed:
            get_relay().unsubscribe()
            self.subscribed = False
        await super().disconnect(code)


class RuntimeEventsConsumer(SignedInConsumer):
    """The live inspector's socket. `?after=` is the API's opaque position after the events the
    page shows, and `skip` how many events right after it the page shows too (an API whose list
    gives no position past its last page, bctrl/events.py `position_after`)."""

    kind = "events"
    watching: tuple[str, str] | None = None
    polling = False
    sent: SeenIds

    async def connect(self) -> None:
        if not await self.admit():
            return
        kwargs = self.scope["url_route"]["kwargs"]
        workspace_id, alias = str(kwargs["workspace_id"]), kwargs["alias"]
        await self.channel_layer.group_add(runtime_group(workspace_id, alias), self.channel_name)
        await self.channel_layer.group_add(control_group(workspace_id, alias), self.channel_name)
        self.watching = (workspace_id, alias)
        query = parse_qs(self.scope.get("query_string", b"").decode())
        after = query.get("after", [""])[0][:MAX_POSITION] or None
        skip = query.get("skip", ["0"])[0]
        self.sent = SeenIds()
        # What happened between the page's render and now (the shared poller may be ahead of the
        # page, or start where it is): read once, before the socket counts as open; the live
        # batches skip what this sends. It also tries the page's position on the API before the
        # shared poller may start from it: a position the API refuses (a socket opened by hand)
        # closes this socket and never stalls the poller everyone else shares.
        try:
            with acting.acting_as(self.role):  # this user's read (the shared poller acts for nobody)
                missed = await self._missed(workspace_id, alias, after, int(skip) if skip.isdigit() else 0)
        except BctrlError as error:
            if error.status == 400:
                await self._refuse(4400)
                return
            logger.info("Catch-up of %s/%s failed: %s", workspace_id, alias, error.code)
            missed = []
        get_pollers().subscribe(workspace_id, alias, after)
        self.polling = True
        await self.accept()
        await self.live_events({"rows": render_events(missed, Requests())})

    async def _missed(self, workspace_id: str, alias: str, after: str | None, skip: int) -> list[Event]:
        """The events after `after` (at most CATCH_UP_PAGES pages), less the `skip` the page shows."""
        missed: list[Event] = []
        cursor = after
        for _ in range(CATCH_UP_PAGES):
            page = await events_api.list_events(workspace_id, alias, cursor=cursor, limit=500)
            shown, skip = page.items[:skip], max(0, skip - len(page.items))
            for event in shown:  # on the page already
                self.sent.add(event.id)
            missed += page.items[len(shown) :]
            following = events_api.position_after(page, cursor)
            if not page.next_cursor or following in (None, cursor):
                break
            cursor = following
        return missed

    async def live_events(self, event: dict[str, Any]) -> None:
        rows = [(event_id, html) for event_id, html in event["rows"] if event_id not in self.sent]
        if not rows:
            return
        for event_id, _ in rows:
            self.sent.add(event_id)
        await self.send(text_data="".join(html for _, html in rows))

    async def live_control(self, event: dict[str, Any]) -> None:
        """Someone took or released control of this runtime's browser: show it to everyone here."""
        await self.send(text_data=event["html"])

    async def disconnect(self, code: int) -> None:
        if self.watching is not None:
            workspace_id, alias = self.watching
            self.watching = None
            await self.channel_layer.group_discard(runtime_group(workspace_id, alias), self.channel_name)
            await self.channel_layer.group_discard(control_group(workspace_id, alias), self.channel_name)
            if self.polling:
                self.polling = False
                await get_pollers().unsubscribe(workspace_id, alias)
        await super().disconnect(code)


def _notice(text: str) -> str:
    return toast_html(text, "error")  # an out-of-band toast: the ws extension swaps it like a page's
