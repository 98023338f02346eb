"""Changing users and their roles, with the one rule that keeps the console manageable:
there is always at least one active admin. Synchronous (ORM + password hashing); async views
call these through sync_to_async.
"""

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Q, QuerySet

from dashboard.accounts.roles import ROLES, role_of


class LastAdminError(Exception):
    """The change would leave the console with no active admin."""

    def __init__(self) -> None:
        super().__init__(
            "That would leave the console without an active admin. Make someone else an admin first."
        )


def active_admins() -> "QuerySet[User]":
    return User.objects.filter(Q(is_superuser=True) | Q(groups__name="admin"), is_active=True).distinct()


def _is_last_admin(user: User) -> bool:
    return role_of(user) == "admin" and not active_admins().exclude(pk=user.pk).exists()


def assign_role(user: User, role: str) -> None:
    """One role group per user; other (non-role) groups are kept."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(Group.objects.get(name=role))
    if user.is_superuser and role != "admin":
        # a superuser is an admin whatever its groups say; demoting means dropping that too
        user.is_superuser = False
        user.save(update_fields=["is_superuser"])


def clear_role(user: User) -> None:
    """No role at all (single sign-on, when the provider's groups map to none)."""
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    if user.is_superuser:
        user.is_superuser = False
        user.save(update_fields=["is_superuser"])


def create_user(username: str, role: str, password: str) -> User:
    with transaction.atomic():
        user = User.objects.create_user(username, password=password)
        assign_role(user, role)
    return user


def set_role(user: User, role: str) -> None:
    with transaction.atomic():
        if role != "admin" and _is_last_admin(user):
            raise LastAdminError
        assign_role(user, role)


def set_active(user: User, active: bool) -> None:
    with transaction.atomic():
        if not active and _is_last_admin(user):
            raise LastAdminError
        user.is_active = active
        user.save(update_fields=["is_active"])


def delete_user(user: User) -> None:
    with transaction.atomic():
        if _is_last_admin(user):
            raise LastAdminError
        user.delete()


def set_password(user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def list_users() -> list[tuple[User, str | None]]:
    """Every user with its role, in one query for users and one for groups."""
    users = list(User.objects.order_by("username").prefetch_related("groups"))
    return [(user, stated_role(user)) for user in users]


def stated_role(user: User) -> str | None:
    """The role a user holds, active or not (role_of() says None for an inactive user: it may not act)."""
    if user.is_superuser:
        return "admin"
    names = {g.name for g in user.groups.all()}
    return next((role for role in reversed(ROLES) if role in names), None)
