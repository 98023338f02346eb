import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django

django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does first

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from dashboard.handler import ConsoleASGIHandler  # noqa: E402

# Static files (a few KB of CSS/JS and htmx vendored by django-htmx) are served by Django's own
# ASGI handler, which only intercepts /static/ and hands every other request straight to Django
# (dashboard/handler.py: Django's handler, with pooled request threads).
django_asgi_app = ASGIStaticFilesHandler(ConsoleASGIHandler())

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from dashboard.routing import websocket_urlpatterns  # noqa: E402


def _daphne_keeps_multipart_bodies_unparsed() -> None:
    """Stop Twisted from parsing every multipart POST body into memory under daphne.

    daphne's request class keeps twisted.web's default `parsePOSTFormSubmission=True`, so Twisted
    reads a whole multipart upload into memory and parses it with the `email` package (about 13x
    its size: a 120 MB upload grows the console by 1.7 GB, bench/console_upload_memory.py) into
    `request.args`, which daphne never reads: the ASGI app gets the raw body and Django parses it
    to disk itself. Twisted issue #5511 tracks the parsing; daphne looks the class up by name
    when it builds each connection, so replacing it here covers every request it serves.
    """
    from daphne import http_protocol

    if getattr(http_protocol.WebRequest, "keeps_body_unparsed", False):
        return

    class WebRequest(http_protocol.WebRequest):  # type: ignore[misc]
        keeps_body_unparsed = True

        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["parsePOSTFormSubmission"] = False
            super().__init__(*args, **kwargs)

    http_protocol.WebRequest = WebRequest  # type: ignore[misc]


_daphne_keeps_multipart_bodies_unparsed()

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


async def application(scope: dict, receive: object, send: object) -> None:
    """The router, and the process's background work started by its first request (a health
    check, a page, a socket): daphne has no start hook. Today: the alert rules' watcher."""
    if not _started:
        _start_background_work()
    await router(scope, receive, send)  # type: ignore[arg-type]


_started: list[bool] = []


def _start_background_work() -> None:
    from django.conf import settings

    from dashboard.alerts.watch import get_watcher

    _started.append(True)
    if settings.ALERTS_ENABLED:
        get_watcher().start()
