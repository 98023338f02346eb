"""The browser settings (the contract's LaunchConfig) that a profile keeps and a launch may give."""

from collections.abc import Mapping
from typing import Any

from django import forms

from dashboard.front.forms.upstream import UpstreamForm, secret_field

# The contract's LaunchConfig keys, relative to where a body carries it, → this form's fields.
LAUNCH_CONFIG_FIELDS = {
    "viewport": "viewport_width",
    "viewport.width": "viewport_width",
    "viewport.height": "viewport_height",
    "userAgent": "user_agent",
    "locale": "locale",
    "timezoneId": "timezone_id",
    "proxy": "proxy_server",
    "proxy.server": "proxy_server",
    "proxy.username": "proxy_username",
    "proxy.password": "proxy_password",
    "idleTimeoutSeconds": "idle_timeout_seconds",
}


class LaunchConfigForm(UpstreamForm):
    """The browser settings (the contract's LaunchConfig) a profile keeps and a launch may give.

    Bounds follow the engine's own; `config_path` is where the body carries the config, so the
    API's field errors land on these fields.
    """

    config_path = "config"

    viewport_width = forms.IntegerField(required=False, min_value=100, max_value=7680, label="Viewport width")
    viewport_height = forms.IntegerField(
        required=False, min_value=100, max_value=4320, label="Viewport height"
    )
    user_agent = forms.CharField(required=False, max_length=1000, label="User agent")
    locale = forms.CharField(required=False, max_length=35, help_text="E.g. en-GB.")
    timezone_id = forms.CharField(
        required=False, max_length=64, label="Timezone", help_text="E.g. Europe/Paris."
    )
    proxy_server = forms.CharField(
        required=False, max_length=500, label="Proxy server", help_text="E.g. http://proxy.internal:3128."
    )
    proxy_username = forms.CharField(required=False, max_length=200, label="Proxy username")
    proxy_password = secret_field("Proxy password")
    idle_timeout_seconds = forms.IntegerField(
        required=False,
        min_value=10,
        max_value=7 * 24 * 3600,
        label="Idle timeout (seconds)",
        help_text="The browser stops after this long without activity (default 900).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_fields = {
            **{f"{self.config_path}.{key}": name for key, name in LAUNCH_CONFIG_FIELDS.items()},
            **type(self).api_fields,
        }

    def check_launch_config(self, cleaned: Mapping[str, Any]) -> None:
        width, height = cleaned.get("viewport_width"), cleaned.get("viewport_height")
        if (width is None) != (height is None):
            self.add_error(
                "viewport_height" if height is None else "viewport_width",
                "Give both width and height, or neither.",
            )
        if (cleaned.get("proxy_username") or cleaned.get("proxy_password")) and not cleaned.get(
            "proxy_server"
        ):
            self.add_error("proxy_server", "A proxy username or password needs a proxy server.")

    def launch_config(self) -> dict[str, Any]:
        """The LaunchConfig these fields describe, with only what was given."""
        data = self.cleaned_data
        config: dict[str, Any] = {}
        if data.get("viewport_width") is not None and data.get("viewport_height") is not None:
            config["viewport"] = {"width": data["viewport_width"], "height": data["viewport_height"]}
        for name, key in (("user_agent", "userAgent"), ("locale", "locale"), ("timezone_id", "timezoneId")):
            if data.get(name):
                config[key] = data[name]
        if data.get("proxy_server"):
            proxy = {"server": data["proxy_server"]}
            for name, key in (("proxy_username", "username"), ("proxy_password", "password")):
                if data.get(name):
                    proxy[key] = data[name]
            config["proxy"] = proxy
        if data.get("idle_timeout_seconds") is not None:
            config["idleTimeoutSeconds"] = data["idle_timeout_seconds"]
        return config
