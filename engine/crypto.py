"""Encryption at rest for vault secrets and AI keys (Fernet: AES-128-CBC + HMAC-SHA256)."""

from functools import cache

from cryptography.fernet import Fernet
from django.conf import settings


@cache
def _fernet() -> Fernet:
    return Fernet(settings.VAULT_KEY.encode())


def encrypt(plaintext: str) -> bytes:
    return _fernet().encrypt(plaintext.encode())


def decrypt(ciphertext: bytes | memoryview) -> str:
    return _fernet().decrypt(bytes(ciphertext)).decode()
