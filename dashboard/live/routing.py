"""The console's websocket routes (dashboard/asgi.py wraps them in the origin check and auth)."""

from django.urls import path

from dashboard.live.consumers import RuntimeEventsConsumer, UpdatesConsumer

websocket_urlpatterns = [
    path("ws/updates/", UpdatesConsumer.as_asgi()),
    path("ws/runtimes/<uuid:workspace_id>/<slug:alias>/events/", RuntimeEventsConsumer.as_asgi()),
]
