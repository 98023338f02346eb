import json
import secrets

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.oauth2_validators import OAuth2Validator


class GroupsValidator(OAuth2Validator):
    """Standard claims plus `groups` (the user's Django groups), given with the profile scope."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "profile"}

    def get_additional_claims(self, request):  # type: ignore[no-untyped-def]
        user = request.user
        return {
            "preferred_username": user.username,
            "email": user.email,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }


@csrf_exempt
@require_POST
def set_user(request: HttpRequest, username: str) -> HttpResponse:
    """The tests' way to change a user: {"password", "groups", "email"} (this process's token only)."""
    if not secrets.compare_digest(request.headers.get("X-Test-Token", ""), settings.SECRET_KEY):
        return JsonResponse({"error": "token"}, status=403)
    body = json.loads(request.body)
    user, _ = User.objects.get_or_create(username=username)
    user.email = body.get("email", user.email)
    if "password" in body:
        user.set_password(body["password"])
    user.save()
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in body.get("groups", [])])
    return JsonResponse({"id": user.pk, "groups": body.get("groups", [])})
