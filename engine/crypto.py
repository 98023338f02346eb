"""Encryption at rest for vault secrets, AI keys and profile proxy passwords (Fernet: AES-128-CBC + HMAC-SHA256)."""

from functools import cache
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings


@cache
def _fernet() -> Fernet:
    return Fernet(settings.VAULT_KEY.encode())


def encrypt(plaintext: str) -> bytes:
    return _fernet().encrypt(plaintext.encode())


def decrypt(ciphertext: bytes | memoryview) -> str:
    return _fernet().decrypt(bytes(ciphertext)).decode()


def seal_proxy_password(config: dict[str, Any]) -> dict[str, Any]:
    """A stored launch config: the proxy password, if any, kept only as ciphertext."""
    proxy = config.get("proxy")
    if not proxy or not proxy.get("password"):
        return config
    sealed = {k: v for k, v in proxy.items() if k != "password"}
    sealed["passwordCiphertext"] = encrypt(proxy["password"]).decode()
    return {**config, "proxy": sealed}


def open_proxy_password(config: dict[str, Any]) -> dict[str, Any]:
    """The launch config a browser needs: the sealed proxy password decrypted again."""
    proxy = config.get("proxy")
    if not proxy or not proxy.get("passwordCiphertext"):
        return config
    opened = {k: v for k, v in proxy.items() if k != "passwordCiphertext"}
    opened["password"] = decrypt(proxy["passwordCiphertext"].encode())
    return {**config, "proxy": opened}
