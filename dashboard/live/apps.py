from typing import Any

from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "dashboard.live"
    label = "live"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save

        user_logged_out.connect(_signed_out, dispatch_uid="live.signed_out")
        post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="live.user_saved")


def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        close_sockets_of(user.pk)


def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created and not instance.is_active:
        close_sockets_of(instance.pk)


def close_sockets_of(user_id: int) -> None:
    """Close every live socket of a user, in every console process (their group spans them)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from dashboard.live.relay import user_group

    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": "live.close"})
