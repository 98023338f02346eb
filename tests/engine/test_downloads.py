"""A runtime's downloads, as an attacker would use them: big ones stream, and a quota stops them.

The engine here allows each runtime ENGINE_DOWNLOAD_MAX_BYTES=64 MiB and ENGINE_DOWNLOAD_MAX_COUNT=3
downloads. The suite's site serves `/bytes?n=<count>` (zero bytes, streamed).
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def quota_engine(tmp_path_factory: pytest.TempPathFactory, site: Site) -> Iterator[EngineProcess]:
    process = EngineProcess(
        tmp_path_factory.mktemp("downloads"),
        {
            "ENGINE_DOWNLOAD_MAX_BYTES": str(64 * MIB),
            "ENGINE_DOWNLOAD_MAX_COUNT": "3",
            "ENGINE_WARM_POOL_SIZE": "0",
        },
        allow=site.host_port,
    ).start()
    yield process
    process.stop()


@pytest.fixture
def client(quota_engine: EngineProcess) -> Iterator[httpx.Client]:
    with quota_engine.client("operator") as client:
        yield client


def download(client: httpx.Client, workspace_id: str, site: Site, size: int, after: int) -> dict:
    """Have the runtime's page download `size` bytes; the download's last event after `after`."""
    click = f"""(() => {{ const a = document.createElement('a');
        a.href = '/bytes?n={size}'; a.download = 'big.bin'; document.body.append(a); a.click(); }})()"""
    result = client.post(
        f"/workspaces/{workspace_id}/execute",
        json={
            "runtime": "taker",
            "steps": [
                {"call": "page.goto", "args": [f"{site.url}/index.html"]},
                {"call": "page.evaluate", "args": [click]},
            ],
        },
    ).json()
    assert result["status"] == "succeeded", result
    waited = client.post(
        f"/workspaces/{workspace_id}/runtimes/taker/events/wait",
        json={"eventTypes": ["download.finished", "download.refused"], "after": after, "timeoutMs": 60_000},
    ).json()
    assert waited["timedOut"] is False, waited
    return dict(waited["event"])


def peak_memory_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def test_a_big_download_streams_and_the_quota_stops_the_next(
    quota_engine: EngineProcess, client: httpx.Client, workspace_id: str, site: Site
) -> None:
    assert client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "taker"}).status_code == 200
    engine_pid = quota_engine.process.pid  # type: ignore[union-attr]
    peak = peak_memory_kib(engine_pid)
    kept = download(client, workspace_id, site, 48 * MIB, 0)
    assert kept["eventType"] == "download.finished" and kept["eventData"]["size"] == 48 * MIB, kept
    # Copied into storage in chunks: the engine never held the 48 MiB (it did, whole, before).
    assert peak_memory_kib(engine_pid) - peak < 24 * 1024
    artifact = client.get(f"/artifacts/{kept['eventData']['artifactId']}").json()
    assert artifact["sizeBytes"] == 48 * MIB

    refused = download(client, workspace_id, site, 32 * MIB, kept["sequence"])
    assert refused["eventType"] == "download.refused", refused
    data = refused["eventData"]
    assert (data["reason"], data["limit"]) == ("quota.bytes", 64 * MIB), data
    assert "ENGINE_DOWNLOAD_MAX_BYTES" in data["message"]
    listed = client.get(f"/workspaces/{workspace_id}/artifacts", params={"kind": "download"}).json()
    assert [a["id"] for a in listed["artifacts"]] == [artifact["id"]]  # nothing kept of the refused one


def test_the_count_quota_refuses_the_download_past_it(
    client: httpx.Client, workspace_id: str, site: Site
) -> None:
    assert client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "taker"}).status_code == 200
    after = 0
    for _ in range(3):
        kept = download(client, workspace_id, site, 1024, after)
        assert kept["eventType"] == "download.finished", kept
        after = kept["sequence"]
    refused = download(client, workspace_id, site, 1024, after)
    assert refused["eventType"] == "download.refused", refused
    assert (refused["eventData"]["reason"], refused["eventData"]["limit"]) == ("quota.count", 3)
