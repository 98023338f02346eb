"""Run the test OpenID provider (tests/support/oidc_provider) in its own process on loopback, and
the settings a console needs to sign users in through it."""

import secrets
import sys
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.engine_process import ServerProcess

# Groups at the provider, and the console's role for each (OIDC_*_GROUPS)
ROLE_GROUPS = {"viewer": "bctrl-viewers", "operator": "bctrl-operators", "admin": "bctrl-admins"}
PROVIDER_NAME = "Test ID"


class OidcProvider(ServerProcess):
    name = "oidc-provider"

    def __init__(self, var_dir: Path) -> None:
        self.token = secrets.token_urlsafe(24)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        var_dir.mkdir(parents=True, exist_ok=True)
        key_file = var_dir / "signing-key.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        super().__init__(
            var_dir,
            {
                "OIDC_PROVIDER_DIR": str(var_dir),
                "OIDC_PROVIDER_TOKEN": self.token,
                "OIDC_PROVIDER_KEY_FILE": str(key_file),
            },
        )
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.client_id = "bctrl-console"
        self.client_secret = secrets.token_urlsafe(32)
        self.issuer = f"{self.url}/o"

    def start(self, redirect_uri: str) -> "OidcProvider":
        argv = [
            *(sys.executable, "-m", "tests.support.oidc_provider", "--fd", str(self.listener.fileno())),
            *("--client-id", self.client_id, "--client-secret", self.client_secret),
            *("--redirect-uri", redirect_uri),
        ]
        self.launch(argv, "/o/.well-known/openid-configuration")
        return self

    def console_settings(self) -> dict[str, str]:
        """What a console signing users in through this provider is given (its environment)."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_PROVIDER_NAME": PROVIDER_NAME,
            **{f"OIDC_{role.upper()}_GROUPS": group for role, group in ROLE_GROUPS.items()},
        }

    def set_user(self, username: str, password: str, groups: list[str]) -> None:
        response = httpx.post(
            f"{self.url}/test/users/{username}/",
            json={"password": password, "groups": groups, "email": f"{username}@example.test"},
            headers={"X-Test-Token": self.token},
            timeout=30,
        )
        assert response.status_code == 200, response.text
