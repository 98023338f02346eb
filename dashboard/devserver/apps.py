from django.apps import AppConfig


class DevserverConfig(AppConfig):
    """`manage.py up`: the whole system (engine, console, a key and a login) on one machine."""

    name = "dashboard.devserver"
