"""Who is asking, found once per request in one trip off the event loop, from the cache when it can.

Every page needs the session, the user and the user's role. Django finds each lazily, and under
ASGI each first touch is its own hop to a worker thread plus a database query (session, user,
groups): most of a page's fixed cost. `identity_middleware` finds all three in one hop, after
which templates, views and context processors read them from memory (so a page can be rendered
on the event loop). It also makes every API call of a signed-in user's request act with that
user's role (dashboard/bctrl/acting.py), so the console's one admin key gives no one more in the
API than their role.

The user and their role are cached (`CachedModelBackend`, the cache is Redis when `REDIS_URL` is
set, shared by every console process) and the cached copy is dropped at once, in this process and
(through the shared cache) in every other, whenever the user row, their groups or a role group
change. So a deactivated user, a changed role or a changed password takes effect on the very next
request: the session-hash check Django makes runs against the fresh row. Sessions are cached the
same way (`cached_db`): a sign-out deletes the session from the cache and the database together.
"""

import functools
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import get_user
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, User
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

from dashboard.accounts.roles import role_of
from dashboard.bctrl import acting, timing

# a day at most: the invalidation below is what keeps it right, the timeout only bounds memory
USER_CACHE_SECONDS = 24 * 3600


@functools.cache
def _database() -> str:
    """Which users table ids belong to: consoles with databases of their own may share one Redis,
    and user 1 of one of them must never be served as user 1 of another."""
    database = connection.settings_dict
    where = "|".join(str(database.get(part) or "") for part in ("ENGINE", "HOST", "PORT", "NAME"))
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def _keys(user_id: object) -> tuple[str, str]:
    prefix = f"console.identity.{_database()}"
    return f"{prefix}.user.{user_id}", f"{prefix}.generation.{user_id}"


class CachedModelBackend(ModelBackend):
    """Django's ModelBackend whose `get_user` (every request's user lookup) reads the cache first.

    The cached user carries its role (role_of's per-object answer), so neither the user row nor
    the groups are read from the database while the user is unchanged. Each copy is stamped with
    the user's generation, which `forget` replaces: a request that read the row just before a
    change and stores its copy just after can only store a copy of a past generation, never read
    again (deleting the copy alone would let that late write bring the old row back)."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> User | None:  # type: ignore[override]
        if not settings.LOCAL_ACCOUNTS:  # password sign-in is off: single sign-on only
            return None
        return super().authenticate(request, *args, **kwargs)  # type: ignore[no-any-return]

    def get_user(self, user_id: Any) -> User | None:
        entry_key, generation_key = _keys(user_id)
        found = cache.get_many([entry_key, generation_key])
        generation = found.get(generation_key)
        kept = found.get(entry_key)
        if generation is not None and kept is not None and kept[0] == generation:
            user: User = kept[1]
        else:
            if generation is None:  # first use, or evicted: a new one, which no stored copy has
                cache.add(generation_key, uuid.uuid4().hex, None)
                generation = cache.get(generation_key)
            try:
                user = User._default_manager.get(pk=user_id)
            except User.DoesNotExist:
                return None
            role_of(user)  # computed now, so it travels with the cached copy
            cache.set(entry_key, (generation, user), USER_CACHE_SECONDS)
        return user if self.user_can_authenticate(user) else None


def forget(user_ids: "list[Any] | set[Any]") -> None:
    """Make the cached copies stale now, and again once the change is committed (a request that
    read the old row inside the transaction's window cannot have it served)."""
    if not user_ids:
        return

    def new_generations() -> None:
        cache.set_many({_keys(user_id)[1]: uuid.uuid4().hex for user_id in user_ids}, None)

    new_generations()
    transaction.on_commit(new_generations)


@receiver(post_save, sender=User, dispatch_uid="identity.user_saved")
@receiver(post_delete, sender=User, dispatch_uid="identity.user_deleted")
def _user_changed(sender: Any, instance: User, **kwargs: Any) -> None:
    forget([instance.pk])


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="identity.groups_changed")
def _groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:  # user.groups.add(...), .remove(...), .clear(): that user
        forget([instance.pk])
    elif action == "pre_clear":  # group.user_set.clear(): everyone in it, read before it empties
        forget(set(instance.user_set.values_list("pk", flat=True)))
    else:  # group.user_set.add(...), .remove(...): those users
        forget(set(pk_set or ()))


@receiver(post_save, sender=Group, dispatch_uid="identity.group_saved")
@receiver(pre_delete, sender=Group, dispatch_uid="identity.group_deleted")
def _group_changed(sender: Any, instance: Group, **kwargs: Any) -> None:
    # a role is a group's name: renaming or deleting a group can change its members' roles
    if instance.pk is not None:
        forget(set(User.objects.filter(groups=instance).values_list("pk", flat=True)))


def _identify(request: HttpRequest) -> "AbstractBaseUser | AnonymousUser":
    """Load the session, the user and the role (in a worker thread: this may read the database)."""
    request.session.keys()  # type: ignore[attr-defined]  # loads the session into memory
    user = get_user(request)  # what AuthenticationMiddleware's lazy request.user resolves to
    role_of(user)
    return user


def identity_middleware(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """After Session and AuthenticationMiddleware: one hop finds the session, the user and the role;
    `request.user` and `request.auser()` then answer from memory."""
    assert iscoroutinefunction(get_response), "the console's middleware chain is async (ASGI)"

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        with timing.timed("identity"):
            user = await sync_to_async(_identify)(request)
        request.user = user  # type: ignore[assignment]
        request._acached_user = user  # type: ignore[attr-defined]  # what request.auser() returns
        if not user.is_authenticated:
            return await get_response(request)
        # every API call made for this request acts with this user's role (dashboard/bctrl/acting.py)
        with acting.acting_as(role_of(user)):
            return await get_response(request)

    markcoroutinefunction(middleware)
    return middleware


identity_middleware.async_capable = True  # type: ignore[attr-defined]
identity_middleware.sync_capable = False  # type: ignore[attr-defined]
