from django.http import HttpRequest

from dashboard.accounts.roles import has_role, role_of


def role(request: HttpRequest) -> dict[str, object]:
    """`role`, `can_operate` and `is_admin` for templates, so the UI hides what a role may not do."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"role": None, "can_operate": False, "is_admin": False}
    return {
        "role": role_of(user),
        "can_operate": has_role(user, "operator"),
        "is_admin": has_role(user, "admin"),
    }
