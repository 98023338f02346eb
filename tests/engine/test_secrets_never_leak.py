"""Vault secrets and AI keys leave the engine only through `reveal`: never in another response,
an event, an update, the log, or the database file (they are stored encrypted).
"""

import base64
import json
import secrets
import uuid
from urllib.parse import urlsplit

import httpx

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site


def test_secrets_appear_only_in_reveal(api: httpx.Client, engine: EngineProcess, site: Site) -> None:
    password = f"pw-{secrets.token_hex(12)}"
    seed = base64.b32encode(secrets.token_bytes(20)).decode()
    ai_key = f"sk-{secrets.token_hex(16)}"
    prefix = f"leak-{uuid.uuid4().hex[:6]}/"
    key = f"{prefix}crm"
    seen: list[str] = []

    def record(response: httpx.Response) -> httpx.Response:
        seen.append(response.text)
        return response

    origin = f"http://{urlsplit(site.url).netloc}"
    record(
        api.put(
            f"/vault/{key}", json={"username": "ada", "password": password, "totp": seed, "origins": [origin]}
        )
    )
    record(api.put(f"/vault/{key}", json={"username": "ada", "label": "relabelled"}))
    record(api.get(f"/vault/{key}"))
    record(api.get("/vault", params={"prefix": prefix}))
    record(api.get(f"/vault/{key}/totp"))
    credential_id = f"leak-{uuid.uuid4().hex[:6]}"
    record(
        api.post(
            "/ai-credentials",
            json={
                "id": credential_id,
                "provider": "openai",
                "label": "x",
                "apiKey": ai_key,
                "baseUrl": "http://127.0.0.1:9/v1",
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    )
    record(api.patch(f"/ai-credentials/{credential_id}", json={"apiKey": ai_key + "-2"}))
    record(api.get("/ai-credentials"))
    record(api.post(f"/ai-credentials/{credential_id}/test"))

    workspace = record(
        api.post("/workspaces", json={"name": "leak", "mounts": {"vault": {"allow": [prefix]}}})
    ).json()
    try:
        record(api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "filler"}))
        filled = record(
            api.post(
                f"/workspaces/{workspace['id']}/execute",
                json={
                    "runtime": "filler",
                    "steps": [
                        {"call": "page.goto", "args": [f"{site.url}/vault-login.html"]},
                        {
                            "call": "vault.fill",
                            "args": [
                                key,
                                {
                                    "usernameSelector": "#user",
                                    "passwordSelector": "#pass",
                                    "totpSelector": "#otp",
                                },
                            ],
                        },
                        {"call": "page.click", "args": ["#go"]},
                        {"call": "page.textContent", "args": ["#done"]},
                    ],
                },
            )
        ).json()
        assert filled["status"] == "succeeded", filled
        assert filled["steps"][1]["result"] == {"filled": ["username", "password", "totp"]}
        assert filled["steps"][3]["result"] == "submitted"
        # The refusals name what went wrong, and still carry no secret.
        denied = record(
            api.post(
                f"/workspaces/{workspace['id']}/execute",
                json={"runtime": "filler", "steps": [{"call": "vault.read", "args": [key]}]},
            )
        ).json()
        assert denied["steps"][0]["error"]["code"] == "vault.raw_read_denied"
        outside = record(
            api.post(
                f"/workspaces/{workspace['id']}/execute",
                json={"runtime": "filler", "steps": [{"call": "vault.totp", "args": ["other/crm"]}]},
            )
        ).json()
        assert outside["steps"][0]["error"]["code"] == "vault.forbidden"
        elsewhere = record(
            api.post(
                f"/workspaces/{workspace['id']}/execute",
                json={
                    "runtime": "filler",
                    "steps": [
                        {
                            "call": "page.goto",
                            "args": [f"{site.url.replace('127.0.0.1', 'localhost')}/vault-login.html"],
                        },
                        {
                            "call": "vault.fill",
                            "args": [key, {"usernameSelector": "#user", "passwordSelector": "#pass"}],
                        },
                    ],
                },
            )
        ).json()
        assert elsewhere["steps"][1]["error"]["code"] == "vault.origin_mismatch"
        record(api.get(f"/workspaces/{workspace['id']}/runtimes/filler/events", params={"limit": 500}))
        record(api.get(f"/workspaces/{workspace['id']}/state"))
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
    record(api.get("/updates", params={"after": 0, "limit": 500}))

    revealed = api.post(f"/vault/{key}/reveal").json()
    assert revealed["password"] == password  # the one door, so the checks below can fail

    plaintexts = [password, seed, ai_key]
    for text in seen:
        assert not any(p in text for p in plaintexts)
    log = engine.log()
    assert not any(p in log for p in plaintexts)
    database = b"".join(
        path.read_bytes() for path in engine.var_dir.glob("engine.sqlite3*") if path.is_file()
    )
    assert database, "the engine's SQLite files were not found"
    assert not any(p.encode() in database for p in plaintexts)


def test_a_replayed_raw_read_is_stored_only_sealed(api: httpx.Client, engine: EngineProcess) -> None:
    """An execute's first response is kept for Idempotency replays; a vault.read in it stays encrypted."""
    password = f"pw-{secrets.token_hex(12)}"
    key = f"sealed-{uuid.uuid4().hex[:6]}/crm"
    api.put(f"/vault/{key}", json={"username": "ada", "password": password})
    mounts = {"vault": {"allow": [key], "allowRawReads": True}}
    workspace = api.post("/workspaces", json={"name": "sealed", "mounts": mounts}).json()
    try:
        assert (
            api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "reader"}).status_code == 200
        )
        body = {
            "runtime": "reader",
            "steps": [{"call": "vault.read", "args": [key]}],
            "idempotencyKey": "read-1",
        }
        first = api.post(f"/workspaces/{workspace['id']}/execute", json=body)
        again = api.post(f"/workspaces/{workspace['id']}/execute", json=body)
        assert first.json()["steps"][0]["result"]["password"] == password  # raw reads were granted
        assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
    database = b"".join(
        path.read_bytes() for path in engine.var_dir.glob("engine.sqlite3*") if path.is_file()
    )
    assert database and password.encode() not in database


def test_an_operator_cannot_carry_the_engines_secrets_away(
    api: httpx.Client, engine: EngineProcess, site: Site
) -> None:
    """The attack of issue 7, end to end: an operator key, steps and artifacts, and nothing comes out.

    The operator asks a runtime for the engine's files (file:, view-source:, the engine's own port)
    and for screenshots, PDFs and downloads of them; then every step result, event and artifact is
    searched for the vault key, the database, and the plaintext of a vault password and an AI key.
    """
    key_file = engine.var_dir.parent / "secrets" / "engine_vault_key"
    vault_key = key_file.read_text().strip()  # generated beside the var dir, never inside it
    assert vault_key and not list(engine.var_dir.rglob("engine_vault_key"))
    password, ai_key = f"pw-{secrets.token_hex(12)}", f"sk-{secrets.token_hex(16)}"
    api.put(f"/vault/attack-{uuid.uuid4().hex[:6]}/crm", json={"username": "ada", "password": password})
    api.post(
        "/ai-credentials",
        json={"id": f"attack-{uuid.uuid4().hex[:6]}", "provider": "openai", "label": "x", "apiKey": ai_key},
    )
    database = engine.var_dir / "engine.sqlite3"
    targets = [
        "file:///etc/passwd",
        f"file://{database}",
        f"file://{database}-wal",
        f"file://{key_file}",
        f"view-source:file://{database}",
        f"http://127.0.0.1:{engine.port}/v1/vault",
        f"http://localhost:{engine.port}/healthz",
    ]
    with engine.client("operator") as operator:
        workspace = operator.post("/workspaces", json={"name": "attack"}).json()
        execute = f"/workspaces/{workspace['id']}/execute"
        seen: list[bytes] = []
        try:
            assert (
                operator.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "thief"}).status_code
                == 200
            )
            for target in targets:
                for grab in ({"call": "page.screenshot", "args": [{"fullPage": True}]}, {"call": "page.pdf"}):
                    result = operator.post(
                        execute,
                        json={"runtime": "thief", "steps": [{"call": "page.goto", "args": [target]}, grab]},
                    )
                    seen.append(result.content)
                    assert result.json()["steps"][0]["error"]["code"] == "navigation.blocked", result.text
                    grabbed = operator.post(
                        execute, json={"runtime": "thief", "steps": [grab, {"call": "page.content"}]}
                    )
                    seen.append(grabbed.content)
            # A page may ask for a download of the engine's files; nothing must arrive.
            hrefs = json.dumps(
                [f"file://{database}", f"file://{key_file}", f"http://127.0.0.1:{engine.port}/v1/vault"]
            )
            lure = (
                f"(() => {{ for (const href of {hrefs}) {{ const a = document.createElement('a'); a.href = href;"
                " a.download = 'loot'; document.body.append(a); a.click(); } return 'clicked'; })()"
            )
            seen.append(
                operator.post(
                    execute,
                    json={
                        "runtime": "thief",
                        "steps": [
                            {"call": "page.goto", "args": [f"{site.url}/download.html"]},
                            {"call": "page.evaluate", "args": [lure]},
                            {"call": "page.waitForTimeout", "args": [1500]},
                        ],
                    },
                ).content
            )
            events = operator.get(
                f"/workspaces/{workspace['id']}/runtimes/thief/events", params={"limit": 500}
            )
            seen.append(events.content)
            artifacts = operator.get(f"/workspaces/{workspace['id']}/artifacts", params={"limit": 500}).json()
            assert artifacts["artifacts"], "the screenshots and PDFs of what the page showed are artifacts"
            for artifact in artifacts["artifacts"]:
                seen.append(operator.get(f"/artifacts/{artifact['id']}/content").content)
        finally:
            operator.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
    everything = b"\n".join(seen)
    for secret in (vault_key.encode(), password.encode(), ai_key.encode(), b"SQLite format 3", b"root:x:0:0"):
        assert secret not in everything


def test_a_vault_fill_that_times_out_names_the_field_and_its_selector(
    api: httpx.Client, site: Site, workspace: dict
) -> None:
    key = f"timeout-{uuid.uuid4().hex[:6]}/crm"
    origin = f"http://{urlsplit(site.url).netloc}"
    api.put(f"/vault/{key}", json={"username": "ada", "password": "pw", "origins": [origin]})
    api.patch(f"/workspaces/{workspace['id']}", json={"mounts": {"vault": {"allow": [key]}}})
    api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "filler"}, timeout=120)
    selectors = {"usernameSelector": "#user", "passwordSelector": "#no-such-field"}
    ran = api.post(
        f"/workspaces/{workspace['id']}/execute",
        json={
            "runtime": "filler",
            "steps": [
                {"call": "page.goto", "args": [f"{site.url}/vault-login.html"]},
                {"call": "vault.fill", "args": [key, selectors], "options": {"timeoutMs": 5000}},
            ],
        },
        timeout=60,
    ).json()
    error = ran["steps"][1]["error"]
    assert error["code"] == "step.timeout"
    assert "password field" in error["message"] and "'#no-such-field'" in error["message"]
    api.delete(f"/vault/{key}")
