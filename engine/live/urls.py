"""The /embed pages (mounted by engine/urls.py); their websocket is in engine/live/routing.py."""

from django.urls import path

from engine.live import views

urlpatterns = [
    path("live/<uuid:runtime_id>", views.live_page, name="embed-live"),
    path("recording/<uuid:runtime_id>", views.recording_page, name="embed-recording"),
    path("recording/<uuid:runtime_id>/index", views.recording_index, name="embed-recording-index"),
    path(
        "recording/<uuid:runtime_id>/frames/<str:tab_id>/<int:number>",
        views.recording_frame,
        name="embed-recording-frame",
    ),
    path("assets/<str:name>", views.asset, name="embed-asset"),
]
