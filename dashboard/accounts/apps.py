from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dashboard.accounts"
    label = "accounts"

    def ready(self) -> None:
        # connect their receivers: the sign-in's time zone, and dropping a changed user's cached copy
        from dashboard.accounts import identity, time_zones  # noqa: F401
