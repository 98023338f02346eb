"""The API client's resource modules (profiles, extensions, storage, vault, AI credentials) against
the real engine: typed results, the contract's errors, and what must never leave the client."""

import uuid

import pyotp
import pytest

from dashboard.bctrl import ai_credentials, extensions, profiles, storage, vault
from dashboard.bctrl.errors import Conflict, InvalidRequest, NotFound
from tests.support.extensions import extension_zip


async def test_it_round_trips_a_profile() -> None:
    created = await profiles.create_profile(
        {
            "name": "typed",
            "config": {
                "viewport": {"width": 800, "height": 600},
                "proxy": {"server": "http://p:1", "password": "pw"},
            },
        },
        idempotency_key=uuid.uuid4().hex,
    )
    try:
        assert created.config.viewport_width == 800 and created.config.has_proxy_password
        assert "pw" not in repr(created)
        updated = await profiles.update_profile(created.id, {"name": "typed 2"})
        assert updated.name == "typed 2" and (await profiles.get_profile(created.id)).name == "typed 2"
        assert created.id in [p.id for p in (await profiles.list_profiles(q="typed 2")).items]
    finally:
        await profiles.delete_profile(created.id)
    with pytest.raises(NotFound):
        await profiles.get_profile(created.id)


async def test_the_same_idempotency_key_creates_one_profile() -> None:
    key, name = uuid.uuid4().hex, f"once-{uuid.uuid4().hex[:6]}"
    first = await profiles.create_profile({"name": name}, idempotency_key=key)
    second = await profiles.create_profile({"name": name}, idempotency_key=key)
    try:
        assert first.id == second.id
        assert len((await profiles.list_profiles(q=name)).items) == 1
    finally:
        await profiles.delete_profile(first.id)


async def test_it_uploads_updates_and_deletes_an_extension() -> None:
    extension = await extensions.upload_extension(
        "e.zip", extension_zip("Typed ext", "3.1"), idempotency_key=uuid.uuid4().hex
    )
    try:
        assert (extension.name, extension.version, extension.manifest_version) == ("Typed ext", "3.1", 3)
        assert extension.content_hash.startswith("sha256:") and "tabs" in extension.permissions
        disabled = await extensions.update_extension(extension.id, enabled=False, name="Renamed")
        assert disabled.enabled is False and disabled.name == "Renamed"
        assert extension.id in [e.id for e in await extensions.all_extensions()]
    finally:
        await extensions.delete_extension(extension.id)


async def test_a_bad_package_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as caught:
        await extensions.upload_extension("x.zip", b"not a zip at all")
    assert caught.value.code == "extension.invalid_package" and caught.value.request_id


async def test_it_stores_lists_streams_and_deletes_objects() -> None:
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    stored = await storage.put_object(namespace, "a/b/c.txt", b"hello world", "text/plain")
    try:
        assert stored.size_bytes == 11 and stored.name == "c.txt"
        top = await storage.list_folder(namespace)
        assert top.objects == [] and [f.prefix for f in top.folders] == ["a/"]
        inner = await storage.list_folder(namespace, "a/")
        assert [(f.name, f.prefix) for f in inner.folders] == [("b", "a/b/")]
        assert (
            b"".join([chunk async for chunk in storage.iter_content(namespace, "a/b/c.txt")])
            == b"hello world"
        )
        assert await storage.read_head(namespace, "a/b/c.txt", 5) == b"hello"
        listed = {n.name: n for n in await storage.list_namespaces()}
        assert listed[namespace].object_count == 1 and listed[namespace].size_bytes == 11
    finally:
        await storage.delete_object(namespace, "a/b/c.txt")
    with pytest.raises(NotFound):
        await storage.get_object(namespace, "a/b/c.txt")


@pytest.mark.parametrize("path", ["../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "x?y", ""])
async def test_it_refuses_a_bad_storage_path_before_calling(path: str) -> None:
    with pytest.raises(InvalidRequest):
        await storage.get_object("ns", path)


async def test_it_keeps_vault_secrets_out_of_everything_but_reveal() -> None:
    key, seed = f"typed/{uuid.uuid4().hex[:8]}", pyotp.random_base32()
    entry = await vault.put_entry(
        key, {"username": "u", "password": "s3cret", "totp": seed, "matchOrigins": ["https://a.example"]}
    )
    try:
        assert entry.has_password and entry.has_totp and entry.origins == ["https://a.example"]
        assert "s3cret" not in repr(entry) and seed not in repr(entry)
        code = await vault.totp(key)
        assert pyotp.TOTP(seed).verify(code.code, valid_window=1) and 0 < code.expires_in_seconds <= 30
        revealed = await vault.reveal(key)
        assert revealed.password == "s3cret" and revealed.totp == seed and "s3cret" not in repr(revealed)
        kept = await vault.put_entry(key, {"username": "u2"})
        assert kept.has_password and (await vault.reveal(key)).password == "s3cret"
        assert key in [e.key for e in (await vault.list_entries(prefix="typed/")).items]
    finally:
        await vault.delete_entry(key)


@pytest.mark.parametrize("key", ["../x", "a//b", "/a", "a/", "-a", "a b", "x" * 257])
async def test_it_refuses_a_bad_vault_key_before_calling(key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await vault.get_entry(key)
    assert caught.value.code == "vault.invalid_key"


async def test_a_totp_of_an_entry_without_a_seed_is_refused() -> None:
    key = f"typed/{uuid.uuid4().hex[:8]}"
    await vault.put_entry(key, {"username": "u", "password": "p"})
    try:
        with pytest.raises(InvalidRequest):
            await vault.totp(key)
    finally:
        await vault.delete_entry(key)


async def test_it_round_trips_an_ai_credential_without_its_key() -> None:
    credential_id = f"typed-{uuid.uuid4().hex[:6]}"
    created = await ai_credentials.create_credential(
        {"id": credential_id, "provider": "openai", "label": "Typed", "apiKey": "sk-typed"}, uuid.uuid4().hex
    )
    try:
        assert created.id == credential_id and created.enabled and "sk-typed" not in repr(created)
        updated = await ai_credentials.update_credential(credential_id, {"enabled": False})
        assert updated.enabled is False and updated.label == "Typed"
        with pytest.raises(Conflict):
            await ai_credentials.create_credential(
                {"id": credential_id, "provider": "openai", "label": "Again", "apiKey": "sk"},
                uuid.uuid4().hex,
            )
    finally:
        await ai_credentials.delete_credential(credential_id)


async def test_it_refuses_a_bad_credential_id_before_calling() -> None:
    with pytest.raises(InvalidRequest):
        await ai_credentials.get_credential("../workspaces")
