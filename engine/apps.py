from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    verbose_name = "BCTRL engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import signals
        from django.core.cache import close_caches
        from django.core.handlers.base import reset_urlconf
        from django.db import close_old_connections, reset_queries
        from django.db.backends.signals import connection_created

        connection_created.connect(_tune_sqlite)
        # Django's per-request receivers are synchronous, so each request hopped to the database
        # thread twice just to run them. The engine keeps one persistent connection on that thread
        # and looks after it on a timer instead (engine/lifecycle.py); it sets no per-request
        # urlconf, uses no cache, and bounds DEBUG's query log (Django keeps the last 9,000).
        signals.request_started.disconnect(close_old_connections)
        signals.request_started.disconnect(reset_queries)
        signals.request_finished.disconnect(close_old_connections)
        signals.request_finished.disconnect(reset_urlconf)
        signals.request_finished.disconnect(close_caches)


def _tune_sqlite(sender: object, connection: object, **kwargs: object) -> None:
    # WAL lets readers (event lists, waits) run while the event writer commits batches.
    if getattr(connection, "vendor", "") == "sqlite":
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL;")
            cursor.execute("PRAGMA synchronous=NORMAL;")
            cursor.execute("PRAGMA busy_timeout=10000;")
