from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"
    verbose_name = "BCTRL engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(_tune_sqlite)


def _tune_sqlite(sender: object, connection: object, **kwargs: object) -> None:
    # WAL lets readers (event lists, waits) run while the event writer commits batches.
    if getattr(connection, "vendor", "") == "sqlite":
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL;")
            cursor.execute("PRAGMA synchronous=NORMAL;")
            cursor.execute("PRAGMA busy_timeout=10000;")
