"""Each user sees moments in their own time zone.

The zone is read from the session on every request (no extra query: the session is loaded
anyway), put there at sign-in from the user's Preferences and again when they change it, and
activated for the request, so `|when` (dashboard/templatetags/console.py) and every localtime()
use it. Stored instants stay UTC.
"""

import zoneinfo
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

SESSION_KEY = "time_zone"


@cache
def zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


def valid_zone(name: str) -> bool:
    return name in zone_names()


def time_zone_middleware(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    assert iscoroutinefunction(get_response), "the console's middleware chain is async (ASGI)"

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        name = await request.session.aget(SESSION_KEY, "")
        if name and valid_zone(name):
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return await get_response(request)
        finally:
            timezone.deactivate()

    markcoroutinefunction(middleware)
    return middleware


time_zone_middleware.async_capable = True  # type: ignore[attr-defined]
time_zone_middleware.sync_capable = False  # type: ignore[attr-defined]


@receiver(user_logged_in)
def _zone_at_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    from dashboard.accounts.models import Preferences

    if request is None:
        return
    preferences = Preferences.objects.filter(user=user).first()
    request.session[SESSION_KEY] = preferences.time_zone if preferences else ""


def time_zone_name(request: HttpRequest) -> dict[str, str]:
    """For templates: the zone moments are shown in (the top bar names it)."""
    return {"time_zone_name": timezone.get_current_timezone_name()}
