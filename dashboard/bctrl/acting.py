"""Whose rights an API call carries: the signed-in user's role, as `BCTRL-Acting-Scope` (ours).

The console calls the API with one admin key for its whole team. So that a console operator or
viewer gets no more in the engine than their role (a step reading what the vault filled, a CDP
URL, a kept response body), every call made while serving a signed-in user's request says that
user's role in the header, and the engine treats the call with the lower of the key's scope and
it (docs/api.md, "Acting scope"). Set once per request (dashboard/accounts/identity.py, and the
inspector socket's catch-up read); read by the client for every call (client.py `_traced`).
Calls made for nobody in particular (the updates relay, the events pollers, the alert workers,
health checks) send none: they act with the key's own scope.

Against an API that does not know the header (the public hosted service) it changes nothing: the
console's own role checks are then the only guard (docs/console.md).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = "BCTRL-Acting-Scope"
# a console role -> the API scope it may act with; a signed-in user without a role gets the least
SCOPES = {"admin": "admin", "operator": "operator", "viewer": "read"}
LEAST = "read"

_scope: ContextVar[str | None] = ContextVar("console_acting_scope", default=None)


def scope_of(role: str | None) -> str:
    return SCOPES.get(role or "", LEAST)


def current() -> str | None:
    """The scope the calls of the request being served act with; None outside a user's request."""
    return _scope.get()


@contextmanager
def acting_as(role: str | None) -> Iterator[None]:
    """Calls made inside act with `role`'s scope (a signed-in user's; `None` role: the least)."""
    token = _scope.set(scope_of(role))
    try:
        yield
    finally:
        _scope.reset(token)
