"""Roles: viewer < operator < admin, kept as Django groups so admins manage them like any group.

Viewers read; operators launch, stop, execute and cancel; admins also manage vault entries,
AI credentials, browser profiles, extensions and users. Superusers are admins.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

ROLES = ("viewer", "operator", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
ROLE_ATTRIBUTE = "_console_role"  # where role_of keeps its answer on the request's user object

V = TypeVar("V", bound=Callable[..., Awaitable[HttpResponse]])


def role_of(user: "AbstractBaseUser | AnonymousUser") -> str | None:
    """The user's highest role; computed once per request (the user object lives that long)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return "admin"
    if hasattr(user, ROLE_ATTRIBUTE):
        return getattr(user, ROLE_ATTRIBUTE)  # type: ignore[no-any-return]
    names = set(user.groups.values_list("name", flat=True))  # type: ignore[union-attr,attr-defined]
    role = next((role for role in reversed(ROLES) if role in names), None)
    setattr(user, ROLE_ATTRIBUTE, role)
    return role


def has_role(user: "AbstractBaseUser | AnonymousUser", needed: str) -> bool:
    role = role_of(user)
    return role is not None and RANK[role] >= RANK[needed]


def forbidden(request: HttpRequest, needed: str) -> HttpResponse:
    return TemplateResponse(
        request,
        "errors/403.html",
        {"needed": needed},
        status=403,
    )


def role_required(needed: str) -> Callable[[V], V]:
    """Async views only: 403 unless the signed-in user holds `needed` or a higher role."""

    def decorator(view: V) -> V:
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = await request.auser()
            # the same user object for templates: its role is then looked up once per request
            request.user = user
            allowed = await has_role_async(user, needed)
            if not allowed:
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    await _record_denial(request, needed)
                return forbidden(request, needed)
            return await view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


async def _record_denial(request: HttpRequest, needed: str) -> None:
    """A refused change is worth an audit line: it is either a stale page or someone probing."""
    from dashboard.audit.log import record

    match = request.resolver_match
    await record(
        request,
        "access.denied",
        "page",
        request.path,
        outcome="denied",
        message=f"{match.url_name if match else request.path} needs the {needed} role.",
    )


def _role_known(user: "AbstractBaseUser | AnonymousUser") -> bool:
    """Whether role_of can answer without the database (dashboard/accounts/identity.py finds the
    role of every request's user before its view runs)."""
    return (
        not user.is_authenticated
        or not user.is_active
        or getattr(user, "is_superuser", False)
        or hasattr(user, ROLE_ATTRIBUTE)
    )


async def has_role_async(user: "AbstractBaseUser | AnonymousUser", needed: str) -> bool:
    """has_role for async views: from memory when the role is known, else off the event loop."""
    if _role_known(user):
        return has_role(user, needed)
    from asgiref.sync import sync_to_async

    return await sync_to_async(has_role)(user, needed)
