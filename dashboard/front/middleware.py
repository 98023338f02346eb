from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def content_security_policy(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Placeholder until security headers land."""

    def middleware(request: HttpRequest) -> HttpResponse:
        return get_response(request)

    return middleware
