"""Who am I, and is the engine up."""

from django.http import HttpRequest
from ninja import Router, Schema

from engine.api.auth import READ, whoami_payload
from engine.api.common import Timestamp

router = Router(tags=["auth"])


class Organization(Schema):
    id: str
    name: str


class ApiKeyInfo(Schema):
    id: str
    name: str
    scopes: list[str]
    createdAt: Timestamp


class WhoAmI(Schema):
    organization: Organization
    apiKey: ApiKeyInfo


@router.get(
    "/auth/whoami", auth=READ, response=WhoAmI, summary="The organisation and API key of this request"
)
async def whoami(request: HttpRequest) -> dict[str, object]:
    return whoami_payload(request.auth)  # type: ignore[attr-defined]
