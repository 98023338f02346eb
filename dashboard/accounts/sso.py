"""Single sign-on through an OpenID Connect provider (mozilla-django-oidc), off unless OIDC_ISSUER is set.

The console finds the provider's endpoints from its issuer (`/.well-known/openid-configuration`,
read when first needed and kept for an hour) and signs users in with the authorization code flow
(state, nonce and PKCE). At every sign-in, the role comes from the groups claim
(OIDC_GROUPS_CLAIM) through the mapping OIDC_ADMIN_GROUPS / OIDC_OPERATOR_GROUPS /
OIDC_VIEWER_GROUPS, the highest mapped role winning:

- a first sign-in creates the user (no password) with that role, linked to the provider's
  subject (`SingleSignOnIdentity`); later ones find the user by that link, never by a name or
  an e-mail address, so nobody at the provider can take over a local account by choosing its name;
- a role the claim no longer grants is taken away at that sign-in; when the claim maps to no role
  at all the user keeps none and the sign-in is refused, saying why.

Signed-in users are then the console's like any other (sessions, the cached identity, roles);
LOCAL_ACCOUNTS=false turns password sign-in off (dashboard/accounts/identity.py).
"""

import logging
import re
import time
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from dashboard.accounts import users
from dashboard.accounts.models import SingleSignOnIdentity
from dashboard.accounts.roles import ROLES
from dashboard.audit.models import AuditEntry

logger = logging.getLogger("dashboard.sso")

ERROR_KEY = "sso_error"  # the session key of why the last sign-in was refused (the sign-in page says it)
DISCOVERY_SECONDS = 3600
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
CACHED_BACKEND = "dashboard.accounts.identity.CachedModelBackend"
_discovered: dict[str, tuple[float, dict[str, str]]] = {}  # issuer -> (when, endpoints)


class ProviderUnavailable(Exception):
    """The provider's discovery document could not be read."""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def _endpoints() -> dict[str, str]:
    """The provider's endpoints, from its discovery document (read once an hour at most)."""
    issuer = settings.OIDC_ISSUER
    kept = _discovered.get(issuer)
    if kept is not None and time.monotonic() - kept[0] < DISCOVERY_SECONDS:
        return kept[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
        found = {name: str(document[key]) for name, key in ENDPOINTS.items()}
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        raise ProviderUnavailable(f"{url} could not be read ({type(error).__name__})") from error
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise ProviderUnavailable(f"{url} names another issuer ({document.get('issuer')!r})")
    _discovered[issuer] = (time.monotonic(), found)
    return found


def _setting(name: str, *default: Any) -> Any:
    """mozilla-django-oidc's settings lookup, with the endpoints discovered from the issuer."""
    if name in ENDPOINTS:
        return _endpoints()[name]
    return import_from_settings(name, *default)


def role_for(claims: dict[str, Any]) -> str | None:
    """The highest role the groups claim maps to, or None."""
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = re.split(r"[\s,]+", groups)
    names = {str(group) for group in groups if group}
    mapping = settings.OIDC_ROLE_GROUPS
    return next((role for role in reversed(ROLES) if names & set(mapping[role])), None)


def _refuse(request: HttpRequest, message: str) -> None:
    request.session[ERROR_KEY] = message


class SingleSignOnBackend(OIDCAuthenticationBackend):
    """Finds or creates the user of a provider's subject and gives it the role its groups map to."""

    get_settings = staticmethod(_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Django makes every backend for every sign-in, password ones too: the provider's
        # endpoints are read only when its answer is being handled (authenticate, below).
        self.UserModel = User

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if request is None or "nonce" not in kwargs:  # not the callback's: a password sign-in
            return None
        super().__init__()
        return super().authenticate(request, **kwargs)  # type: ignore[no-any-return]

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        subject = str(claims.get("sub") or "")
        return User.objects.filter(sso_identity__issuer=settings.OIDC_ISSUER, sso_identity__subject=subject)

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def create_user(self, claims: dict[str, Any]) -> User | None:  # type: ignore[override]
        role = role_for(claims)
        if role is None:
            _refuse(self.request, _no_role_message(claims))
            return None
        with transaction.atomic():
            user = User.objects.create_user(_free_username(claims), email=_email(claims))
            SingleSignOnIdentity.objects.create(
                user=user, issuer=settings.OIDC_ISSUER, subject=str(claims["sub"])
            )
            users.assign_role(user, role)
            _audit(self.request, user, "user.create", f"first sign-in through single sign-on; role {role}")
        return user

    def update_user(self, user: User, claims: dict[str, Any]) -> User | None:  # type: ignore[override]
        role, held = role_for(claims), users.stated_role(user)
        with transaction.atomic():
            if role != held:
                if role is None:
                    users.clear_role(user)
                else:
                    users.assign_role(user, role)
                _audit(
                    self.request,
                    user,
                    "user.role",
                    f"{held or 'no role'} → {role or 'no role'} (single sign-on)",
                )
            if _email(claims) and user.email != _email(claims):
                user.email = _email(claims)
                user.save(update_fields=["email"])
        if role is None:
            _refuse(self.request, _no_role_message(claims))
            return None
        return user


def _no_role_message(claims: dict[str, Any]) -> str:
    logger.warning(
        "Single sign-on refused subject %s: its %r claim maps to no role",
        claims.get("sub"),
        settings.OIDC_GROUPS_CLAIM,
    )
    return (
        "You signed in at the identity provider, but none of your groups there gives you a role in "
        "this console. Ask your administrator to add you to one."
    )


def _email(claims: dict[str, Any]) -> str:
    return str(claims.get("email") or "")[:254]


def _free_username(claims: dict[str, Any]) -> str:
    """A username for a new user: the provider's preferred name (or the e-mail address, or the
    subject), made of the characters Django allows, with a number added while it is taken."""
    wanted = str(claims.get("preferred_username") or claims.get("email") or f"sso-{claims['sub']}")
    base = re.sub(r"[^\w.@+-]", "-", wanted)[:140] or "sso-user"
    name, n = base, 1
    while User.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _audit(request: HttpRequest, user: User, action: str, message: str) -> None:
    AuditEntry.objects.create(
        user=user,
        username=user.username,
        action=action,
        target_type="user",
        target_id=user.username,
        outcome=AuditEntry.Outcome.SUCCEEDED,
        message=message,
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )


class SignInView(OIDCAuthenticationRequestView):
    """`/sso/start/`: off to the provider (or back to the sign-in page, saying why not)."""

    get_settings = staticmethod(_setting)

    def __init__(
        self, **kwargs: Any
    ) -> None:  # the endpoint is looked up in get(), where a failure can be shown
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            return HttpResponseRedirect(reverse("login"))
        try:
            self.OIDC_OP_AUTH_ENDPOINT = _endpoints()["OIDC_OP_AUTHORIZATION_ENDPOINT"]
        except ProviderUnavailable as error:
            logger.warning("Single sign-on could not start: %s", error)
            _refuse(request, "The identity provider could not be reached. Try again in a minute.")
            return HttpResponseRedirect(reverse("login"))
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    """`/sso/callback/`: the provider's answer. A signed-in user's session names the console's
    cached backend, so every later request finds the user the way a password sign-in's does."""

    get_settings = staticmethod(_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not enabled():
            return HttpResponseRedirect(reverse("login"))
        try:
            return super().get(request)
        except ProviderUnavailable as error:
            logger.warning("Single sign-on could not finish: %s", error)
            _refuse(request, "The identity provider could not be reached. Try again in a minute.")
            return self.login_failure()

    def login_success(self) -> HttpResponse:
        self.user.backend = CACHED_BACKEND
        return super().login_success()  # type: ignore[no-any-return]

    def login_failure(self) -> HttpResponse:
        if ERROR_KEY not in self.request.session:
            _refuse(self.request, "Single sign-on did not complete. Try again, or ask your administrator.")
        return HttpResponseRedirect(reverse("login"))
