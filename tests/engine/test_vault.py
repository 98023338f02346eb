"""The vault over real HTTP: entries without their secrets, TOTP codes, reveal, keys, scopes."""

import time
import uuid

import httpx
import pyotp
import pytest

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def key() -> str:
    return f"test/{uuid.uuid4().hex[:8]}/login"


def test_it_stores_an_entry_without_showing_its_secrets(api: httpx.Client, key: str) -> None:
    response = api.put(
        f"/vault/{key}", json={"username": "ada", "password": "s3cret-pw", "totp": SEED, "label": "CRM"}
    )
    assert response.status_code == 200
    entry = response.json()
    assert entry["key"] == key and entry["username"] == "ada" and entry["label"] == "CRM"
    assert entry["hasPassword"] is True and entry["hasTotp"] is True
    assert "password" not in entry and "totp" not in entry
    assert api.get(f"/vault/{key}").json() == entry
    assert "s3cret-pw" not in api.get("/vault", params={"prefix": key}).text


def test_it_splits_match_origins_into_origins_and_patterns(api: httpx.Client, key: str) -> None:
    entry = api.put(
        f"/vault/{key}",
        json={
            "username": "u",
            "password": "p",
            "matchOrigins": [
                "HTTPS://CRM.Example.com:443/login",
                "https://*.example.com",
                "http://localhost:8080",
            ],
        },
    ).json()
    assert entry["origins"] == ["http://localhost:8080", "https://crm.example.com"]
    assert entry["originPatterns"] == ["https://*.example.com"]


def test_it_refuses_a_bad_origin(api: httpx.Client, key: str) -> None:
    response = api.put(f"/vault/{key}", json={"username": "u", "password": "p", "origins": ["ftp://x"]})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["path"] == "origins.0"


def test_it_gives_the_current_totp_code(api: httpx.Client, key: str) -> None:
    api.put(f"/vault/{key}", json={"username": "u", "password": "p", "totp": SEED.lower()})
    body = api.get(f"/vault/{key}/totp").json()
    assert 1 <= body["expiresInSeconds"] <= 30
    assert pyotp.TOTP(SEED).verify(body["code"], for_time=time.time(), valid_window=1)


def test_it_accepts_an_otpauth_uri(api: httpx.Client, key: str) -> None:
    uri = f"otpauth://totp/CRM:ada?secret={SEED}&issuer=CRM&digits=8&period=60"
    api.put(f"/vault/{key}", json={"username": "u", "password": "p", "totp": uri})
    body = api.get(f"/vault/{key}/totp").json()
    assert len(body["code"]) == 8 and body["expiresInSeconds"] <= 60


def test_it_refuses_a_seed_that_is_not_base32(api: httpx.Client, key: str) -> None:
    response = api.put(
        f"/vault/{key}", json={"username": "u", "password": "p", "totp": "not base32 at all!!"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["path"] == "totp"


def test_totp_of_an_entry_without_a_seed_is_400(api: httpx.Client, key: str) -> None:
    api.put(f"/vault/{key}", json={"username": "u", "password": "p"})
    response = api.get(f"/vault/{key}/totp")
    assert response.status_code == 400
    assert "no TOTP seed" in response.json()["error"]["message"]


def test_a_put_without_password_keeps_the_stored_one(api: httpx.Client, key: str) -> None:
    api.put(
        f"/vault/{key}",
        json={"username": "u", "password": "first", "totp": SEED, "origins": ["https://a.example"]},
    )
    renamed = api.put(f"/vault/{key}", json={"username": "u2", "label": "renamed"})
    assert renamed.status_code == 200
    assert renamed.json()["hasPassword"] and renamed.json()["hasTotp"]
    assert renamed.json()["origins"] == ["https://a.example"]  # an omitted field keeps its value
    assert api.post(f"/vault/{key}/reveal").json() == {"username": "u2", "password": "first", "totp": SEED}
    cleared = api.put(f"/vault/{key}", json={"username": "u2", "totp": None})
    assert cleared.json()["hasTotp"] is False


def test_a_new_entry_needs_a_password(api: httpx.Client, key: str) -> None:
    response = api.put(f"/vault/{key}", json={"username": "u"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == [
        {"path": "password", "message": "Required for a new entry."}
    ]


def test_reveal_is_admin_only_and_audited(engine: EngineProcess, api: httpx.Client, key: str) -> None:
    api.put(f"/vault/{key}", json={"username": "u", "password": "audited-pw"})
    with engine.client("operator") as operator:
        assert operator.post(f"/vault/{key}/reveal").status_code == 403
        assert operator.put(f"/vault/{key}", json={"username": "x", "password": "y"}).status_code == 403
        assert operator.get(f"/vault/{key}").status_code == 200
    assert api.post(f"/vault/{key}/reveal").json()["password"] == "audited-pw"
    log = engine.log()
    assert f"vault entry '{key}' revealed by API key" in log
    assert "audited-pw" not in log


def test_a_read_key_gets_no_totp_code(engine: EngineProcess, api: httpx.Client, key: str) -> None:
    api.put(f"/vault/{key}", json={"username": "u", "password": "p", "totp": SEED})
    with engine.client("read") as reader:
        assert reader.get(f"/vault/{key}/totp").status_code == 403


@pytest.mark.parametrize(
    "bad", ["%2Flead", "a//b", "-dash", "a/b/", "x" * 257, "a/b c", "prod/totp", "prod/reveal"]
)
def test_it_refuses_bad_keys(api: httpx.Client, bad: str) -> None:
    response = api.put(f"/vault/{bad}", json={"username": "u", "password": "p"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "vault.invalid_key"


def test_it_lists_by_prefix_and_totp_with_a_cursor(api: httpx.Client) -> None:
    prefix = f"list-{uuid.uuid4().hex[:6]}/"
    for i in range(3):
        api.put(
            f"/vault/{prefix}k{i}", json={"username": "u", "password": "p", **({"totp": SEED} if i else {})}
        )
    first = api.get("/vault", params={"prefix": prefix, "limit": 2}).json()
    second = api.get("/vault", params={"prefix": prefix, "limit": 2, "cursor": first["nextCursor"]}).json()
    assert [e["key"] for e in first["entries"] + second["entries"]] == [f"{prefix}k{i}" for i in range(3)]
    with_totp = api.get("/vault", params={"prefix": prefix, "hasTotp": "true"}).json()
    assert [e["key"] for e in with_totp["entries"]] == [f"{prefix}k1", f"{prefix}k2"]


def test_it_deletes_an_entry(api: httpx.Client, key: str) -> None:
    api.put(f"/vault/{key}", json={"username": "u", "password": "p"})
    assert api.delete(f"/vault/{key}").status_code == 204
    response = api.get(f"/vault/{key}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "vault.not_found"


def _latest_update_id(api: httpx.Client) -> int:
    """The newest update's sequence, however long the shared engine's log already is."""
    after = 0
    while True:
        page = api.get("/updates", params={"after": after, "limit": 500}).json()
        if not page["updates"]:
            return after
        after = page["updates"][-1]["id"]
        if page["nextCursor"] is None:
            return after


def test_updates_carry_the_key_only(api: httpx.Client, key: str) -> None:
    start = _latest_update_id(api)
    api.put(f"/vault/{key}", json={"username": "u", "password": "never-in-updates"})
    api.delete(f"/vault/{key}")
    mine = [
        u
        for u in api.get("/updates", params={"after": start}).json()["updates"]
        if u["type"].startswith("vault")
    ]
    assert [(u["type"], u["data"]) for u in mine][-2:] == [
        ("vault.entry.created", {"key": key}),
        ("vault.entry.deleted", {"key": key}),
    ]


# --- raw reads and fill origins (the vault rules of engine security) --------------------------------

RAW = {"vault": {"allow": ["raw/"], "allowRawReads": True}}


def test_raw_reads_in_mounts_need_an_admin_key(engine: EngineProcess) -> None:
    with engine.client("operator") as operator, engine.client("admin") as admin:
        refused = operator.post("/workspaces", json={"name": "raw", "mounts": RAW})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.forbidden"
        assert "allowRawReads" in refused.json()["error"]["message"]
        workspace = admin.post("/workspaces", json={"name": "raw", "mounts": RAW}).json()
        url = f"/workspaces/{workspace['id']}"
        try:
            assert operator.patch(url, json={"mounts": RAW}).status_code == 403  # resending it, too
            assert operator.patch(url, json={"name": "renamed"}).status_code == 200  # mounts untouched
            launch = operator.post(f"{url}/runtimes", json={"alias": "raw", "mounts": RAW})
            assert launch.status_code == 403 and "allowRawReads" in launch.json()["error"]["message"]
            assert operator.get(f"{url}/runtimes").json()["runtimes"] == []
            withdrawn = operator.patch(url, json={"mounts": {"vault": {"allow": ["raw/"]}}})
            assert (
                withdrawn.status_code == 200 and withdrawn.json()["mounts"]["vault"]["allowRawReads"] is False
            )
            assert admin.patch(url, json={"mounts": RAW}).json()["mounts"]["vault"]["allowRawReads"] is True
        finally:
            admin.delete(url, params={"force": "true"})


def test_fill_needs_an_entry_with_origins_and_an_http_page_on_one(
    engine: EngineProcess, site: Site, key: str
) -> None:
    with engine.client("admin") as admin, engine.client("operator") as operator:
        assert (
            admin.put(f"/vault/{key}", json={"username": "ada", "password": "pw-origins"}).status_code == 200
        )
        prefix = key.rsplit("/", 1)[0] + "/"
        workspace = admin.post(
            "/workspaces", json={"name": "fill", "mounts": {"vault": {"allow": [prefix]}}}
        ).json()
        url = f"/workspaces/{workspace['id']}"
        try:
            assert operator.post(f"{url}/runtimes", json={"alias": "filler"}).status_code == 200
            selectors = {"usernameSelector": "#user", "passwordSelector": "#pass"}
            fill = {"call": "vault.fill", "args": [key, selectors]}
            page = {"call": "page.goto", "args": [f"{site.url}/vault-login.html"]}

            def run(*steps: dict) -> dict:
                return operator.post(
                    f"{url}/execute", json={"runtime": "filler", "steps": list(steps)}
                ).json()

            no_origins = run(page, fill)["steps"][1]["error"]
            assert no_origins["code"] == "vault.origin_required" and "origins" in no_origins["message"]
            admin.put(f"/vault/{key}", json={"username": "ada", "origins": [site.url]})
            blank = run({"call": "page.goto", "args": ["about:blank"]}, fill)["steps"][1]["error"]
            assert blank["code"] == "vault.origin_mismatch"
            assert run(page, fill)["steps"][1]["result"] == {"filled": ["username", "password"]}
        finally:
            admin.delete(url, params={"force": "true"})
