"""POST .../embed/live and .../embed/recording over real HTTP: who may mint what, and the refusals."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import ROOT, EngineProcess


@pytest.fixture
def runtime_url(api: httpx.Client, workspace: dict) -> Iterator[str]:
    response = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "shown"})
    assert response.status_code == 200, response.text
    yield f"/workspaces/{workspace['id']}/runtimes/shown"


def test_it_mints_a_live_view(api: httpx.Client, runtime_url: str, engine: EngineProcess) -> None:
    response = api.post(f"{runtime_url}/embed/live", json={"interactive": True, "viewerMode": "automation"})
    assert response.status_code == 200, response.text
    body = response.json()
    runtime_id = api.get(runtime_url).json()["id"]
    assert body["iframeUrl"].startswith(f"{engine.url}/embed/live/{runtime_id}?token=")
    assert body["token"] and body["expiresAt"].endswith("Z")
    page = httpx.get(body["iframeUrl"])
    assert page.status_code == 200 and "frame-ancestors" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert 'data-interactive="true"' in page.text and "<script src=" in page.text
    assert '<header class="controls">' in page.text
    bare = api.post(f"{runtime_url}/embed/live", json={"showControls": False}).json()["iframeUrl"]
    assert '<header class="controls" hidden>' in httpx.get(bare).text


def test_a_live_view_lasts_an_hour_unless_asked(api: httpx.Client, runtime_url: str) -> None:
    from datetime import datetime

    default = api.post(f"{runtime_url}/embed/live").json()  # no body at all
    short = api.post(f"{runtime_url}/embed/live", json={"ttlSeconds": 60}).json()
    lasts = datetime.fromisoformat(default["expiresAt"]) - datetime.fromisoformat(short["expiresAt"])
    assert 3500 < lasts.total_seconds() < 3560


def test_a_token_cannot_outlive_the_setting(api: httpx.Client, runtime_url: str) -> None:
    response = api.post(f"{runtime_url}/embed/live", json={"ttlSeconds": 10 * 24 * 3600})
    assert response.status_code == 400
    fields = response.json()["error"]["details"]["fields"]
    assert fields[0]["path"] == "ttlSeconds" and "ENGINE_EMBED_TOKEN_MAX_TTL_SECONDS" in fields[0]["message"]


def test_a_read_key_may_watch_but_not_take_control(engine: EngineProcess, runtime_url: str) -> None:
    with engine.client("read") as reader:
        assert reader.post(f"{runtime_url}/embed/live", json={}).status_code == 200
        refused = reader.post(f"{runtime_url}/embed/live", json={"interactive": True})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.forbidden"
        assert "operator" in refused.json()["error"]["message"]
        assert reader.post(f"{runtime_url}/embed/recording").status_code == 200
        # The read scope reaches these two POSTs only: launching stays an operator's call.
        assert reader.post(runtime_url.rsplit("/", 1)[0], json={"alias": "nope"}).status_code == 403
    with engine.client("operator") as operator:
        assert operator.post(f"{runtime_url}/embed/live", json={"interactive": True}).status_code == 200


def test_an_ended_runtime_has_no_live_view(api: httpx.Client, runtime_url: str) -> None:
    api.post(f"{runtime_url}/stop")
    response = api.post(f"{runtime_url}/embed/live", json={})
    assert response.status_code == 409 and response.json()["error"]["code"] == "runtime.not_active"
    unknown = api.post(runtime_url.replace("/shown", "/ghost") + "/embed/live", json={})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "runtime.not_found"


def test_a_recording_is_encoding_while_the_runtime_runs(api: httpx.Client, runtime_url: str) -> None:
    body = api.post(f"{runtime_url}/embed/recording").json()
    assert body["status"] == "encoding" and body["durationMs"] is None
    assert "/embed/recording/" in body["iframeUrl"] and body["token"]
    assert api.get(runtime_url).json()["config"]["recording"] is True


def test_a_runtime_launched_without_recording_has_none(api: httpx.Client, workspace: dict) -> None:
    launched = api.post(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "unrecorded", "launch": {"mode": "ephemeral", "config": {"recording": False}}},
    )
    assert launched.status_code == 200 and launched.json()["config"]["recording"] is False
    response = api.post(f"/workspaces/{workspace['id']}/runtimes/unrecorded/embed/recording")
    assert response.status_code == 404 and response.json()["error"]["code"] == "recording.not_found"
    assert "recording: false" in response.json()["error"]["message"]


def test_the_embed_pages_refuse_a_missing_token(
    engine: EngineProcess, api: httpx.Client, runtime_url: str
) -> None:
    runtime_id = api.get(runtime_url).json()["id"]
    for page in ("live", "recording"):
        response = httpx.get(f"{engine.url}/embed/{page}/{runtime_id}")
        assert response.status_code == 403 and 'data-state="invalid"' in response.text
        assert "<canvas" not in response.text
    # A live token does not open the recording, nor the reverse.
    live = api.post(f"{runtime_url}/embed/live").json()["token"]
    assert httpx.get(f"{engine.url}/embed/recording/{runtime_id}", params={"token": live}).status_code == 403
    assert (
        httpx.get(f"{engine.url}/embed/assets/live.js").headers["Content-Type"].startswith("text/javascript")
    )
    assert httpx.get(f"{engine.url}/embed/assets/settings.py").status_code == 404


def test_the_engine_refuses_to_let_any_site_frame_its_viewers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ENGINE_VAR_DIR": str(tmp_path),
        "ENGINE_EMBED_FRAME_ANCESTORS": "https://console.example.com,*",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "engine", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "ENGINE_EMBED_FRAME_ANCESTORS" in result.stderr
    env["ENGINE_DEBUG"] = "true"  # a developer's machine may
    check = [sys.executable, "manage.py", "engine", "check"]
    assert subprocess.run(check, cwd=ROOT, env=env, capture_output=True, timeout=120).returncode == 0
