"""What the vault's use-without-read bookkeeping costs a step (engine/runtimes/seal.py).

One engine, one page of the suite's form. Three 50-step executes, each timed over ROUNDS:
- `page.title` x 50: a reading step with no seal recorded (the check is a look at an empty map);
- `page.evaluate` x 50: each one marks the documents it may run in (two CDP `Page.getFrameTree`
  round trips);
- `page.title` x 50 by an operator key after a `vault.fill` and a navigation away from the filled
  document: every read asks the browser which document the filled page shows now (one round trip
  per page with a filled document on record).
Prints the medians and each ratio against the plain `page.title` run; the same steps straight
through Playwright are printed too, as the floor.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.runtime_launch import raw_page, run_async  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

ROUNDS = 9
STEPS = 50


def once(client: object, url: str, steps: list[dict]) -> float:
    started = time.perf_counter()
    result = client.post(url, json={"runtime": "bench", "steps": steps}).json()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    assert result["status"] == "succeeded", result["steps"][-1]
    return elapsed


def api_runs(engine: EngineProcess, site: TestSite) -> dict[str, float]:
    """The three runs interleaved round by round, so a busy machine weighs on each alike."""
    with engine.client("admin") as admin, engine.client("operator") as operator:
        key = "bench/sealing"
        admin.put(f"/vault/{key}", json={"username": "u", "password": "pw-bench-1234", "origins": [site.url]})
        workspace_id = admin.post(
            "/workspaces", json={"name": "sealing bench", "mounts": {"vault": {"allow": ["bench/"]}}}
        ).json()["id"]
        admin.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "bench"})
        url = f"/workspaces/{workspace_id}/execute"
        goto = {"call": "page.goto", "args": [f"{site.url}/vault-login.html"]}
        fill = {"call": "vault.fill", "args": [key, {"passwordSelector": "#pass"}]}
        once(admin, url, [goto, fill, goto])  # a filled document on record, and a fresh one shown
        title = [{"call": "page.title"}] * STEPS
        evaluate = [{"call": "page.evaluate", "args": ["1 + 1"]}] * STEPS
        runs = {  # an admin key reads without the check (raw-read rights); an operator's is checked
            "title": (admin, title),
            "evaluate": (admin, evaluate),
            "title, checked": (operator, title),
        }
        samples: dict[str, list[float]] = {name: [] for name in runs}
        for i in range(ROUNDS + 1):
            for name, (client, steps) in runs.items():
                elapsed = once(client, url, steps)
                if i:
                    samples[name].append(elapsed)
        admin.delete(f"/workspaces/{workspace_id}", params={"force": "true"})
        admin.delete(f"/vault/{key}")
    return {name: statistics.median(values) for name, values in samples.items()}


async def raw_runs(site: TestSite, scratch: Path) -> dict[str, float]:
    async with raw_page(scratch / "raw") as page:
        await page.goto(f"{site.url}/vault-login.html")
        out = {}
        for name, call in (("title", page.title), ("evaluate", lambda: page.evaluate("1 + 1"))):
            samples = []
            for i in range(ROUNDS + 1):
                started = time.perf_counter()
                for _ in range(STEPS):
                    await call()
                if i:
                    samples.append(time.perf_counter() - started)
            out[name] = statistics.median(samples)
    return out


def main() -> None:
    site = TestSite().start()
    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "engine", allow=site.host_port).start()
        try:
            raw = run_async(raw_runs(site, Path(tmp)))
            api = api_runs(engine, site)
        finally:
            engine.stop()
            site.stop()
    print(f"{STEPS}-step executes, medians of {ROUNDS} rounds")
    for name, seconds in api.items():
        ratio = seconds / api["title"]
        print(f"  api  {name:<15}: {seconds * 1000:7.1f} ms   ratio to api title: {ratio:5.2f}")
    for name, seconds in raw.items():
        print(f"  raw  {name:<15}: {seconds * 1000:7.1f} ms   (Playwright alone, the floor)")


if __name__ == "__main__":
    main()
