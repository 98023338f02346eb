"""Puppeteer (puppeteer-core from npm) drives a runtime through the CDP gateway, as a user's script does."""

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import ROOT
from tests.support.site import TestSite

pytestmark = pytest.mark.e2e
SCRIPT = Path(__file__).with_name("cdp_puppeteer.js")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_puppeteer_navigates_reads_and_screenshots(
    api: httpx.Client, workspace: dict, site: TestSite, tmp_path: Path
) -> None:
    assert (ROOT / "node_modules" / "puppeteer-core").is_dir(), "run bin/setup (npm ci) first"
    runtime = f"/workspaces/{workspace['id']}/runtimes/puppet"
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "puppet"}).status_code == 200
    url = api.post(f"{runtime}/cdp", json={"label": "puppeteer"}).json()["webSocketDebuggerUrl"]
    shot = tmp_path / "shot.png"
    done = subprocess.run(
        ["node", str(SCRIPT), url, f"{site.url}/form.html", str(shot)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["title"] == "Test form" and result["still"] == f"{site.url}/form.html"
    assert "cdp.browser_end" in result["closeError"]
    assert shot.read_bytes()[:4] == b"\x89PNG"
    navigated = api.get(f"{runtime}/events", params={"eventTypes": "page.navigated", "limit": 500}).json()[
        "events"
    ]
    assert f"{site.url}/form.html" in [e["eventData"]["url"] for e in navigated]
    assert api.get(runtime).json()["status"] == "active"
