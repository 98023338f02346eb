"""Artifacts over real HTTP: a real browser download becomes an artifact with the same bytes."""

import uuid
from pathlib import Path

import httpx

from tests.support.site import PAGES
from tests.support.site import TestSite as Site


def test_a_download_becomes_an_artifact(api: httpx.Client, workspace: dict, site: Site) -> None:
    workspace_id = workspace["id"]
    assert api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "dl"}).status_code == 200
    result = api.post(
        f"/workspaces/{workspace_id}/execute",
        json={
            "runtime": "dl",
            "steps": [
                {"call": "page.goto", "args": [f"{site.url}/download.html"]},
                {"call": "page.click", "args": ["#get"]},
            ],
        },
    ).json()
    assert result["status"] == "succeeded", result
    waited = api.post(
        f"/workspaces/{workspace_id}/runtimes/dl/events/wait",
        json={"eventTypes": ["download.finished"], "after": 0, "timeoutMs": 30000},
    ).json()
    assert waited["timedOut"] is False
    artifact_id = waited["event"]["eventData"]["artifactId"]
    assert artifact_id, waited

    artifact = api.get(f"/artifacts/{artifact_id}").json()
    expected = Path(PAGES / "download-sample.bin").read_bytes()
    assert (artifact["kind"], artifact["name"], artifact["runtime"]) == ("download", "report.bin", "dl")
    assert artifact["sizeBytes"] == len(expected) and artifact["workspaceId"] == workspace_id
    assert artifact["storage"]["namespace"] == f"workspace-{workspace_id}"
    content = api.get(f"/artifacts/{artifact_id}/content")
    assert content.content == expected
    assert 'filename="report.bin"' in content.headers["content-disposition"]
    # The same bytes are a storage object of the workspace's namespace, tagged with the runtime.
    stored = api.get(
        f"/storage/{artifact['storage']['namespace']}/objects/{artifact['storage']['path']}"
    ).json()
    assert stored["source"] == "download" and stored["runtimeId"]

    listed = api.get(
        f"/workspaces/{workspace_id}/artifacts", params={"kind": "download", "runtime": "dl"}
    ).json()
    assert [a["id"] for a in listed["artifacts"]] == [artifact_id]
    assert api.get(f"/workspaces/{workspace_id}/artifacts", params={"kind": "pdf"}).json()["artifacts"] == []


def test_a_screenshot_lands_in_the_mounted_namespace(api: httpx.Client, site: Site) -> None:
    namespace = f"exports-{uuid.uuid4().hex[:6]}"
    workspace = api.post(
        "/workspaces", json={"name": "shots", "mounts": {"storage": {"workspace": namespace}}}
    ).json()
    try:
        api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "shot"})
        result = api.post(
            f"/workspaces/{workspace['id']}/execute",
            json={
                "runtime": "shot",
                "steps": [
                    {"call": "page.goto", "args": [f"{site.url}/index.html"]},
                    {"call": "page.screenshot", "args": [{"name": "home"}]},
                ],
            },
        ).json()
        artifact = result["steps"][1]["result"]["artifact"]
        assert artifact["storage"]["namespace"] == namespace and artifact["kind"] == "screenshot"
        # A step result shows an artifact exactly as the artifacts API does (one wire shape).
        assert artifact == api.get(f"/artifacts/{artifact['id']}").json()
        png = api.get(f"/artifacts/{artifact['id']}/content")
        assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


def test_unknown_artifacts_are_404(api: httpx.Client, workspace: dict) -> None:
    for artifact_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = api.get(f"/artifacts/{artifact_id}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "artifact.not_found"
    assert api.get(f"/workspaces/{uuid.uuid4()}/artifacts").status_code == 404


def test_a_storage_put_step_answers_the_object_as_the_storage_api_shows_it(
    api: httpx.Client, workspace: dict
) -> None:
    workspace_id = workspace["id"]
    assert api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "writer"}).status_code == 200
    result = api.post(
        f"/workspaces/{workspace_id}/execute",
        json={"runtime": "writer", "steps": [{"call": "storage.put", "args": ["notes/a.txt", "hello"]}]},
    ).json()
    written = result["steps"][0]["result"]
    assert written["path"] == "notes/a.txt" and written["source"] == "execute" and written["runtimeId"]
    assert written == api.get(f"/storage/workspace-{workspace_id}/objects/notes/a.txt").json()
