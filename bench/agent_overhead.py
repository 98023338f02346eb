"""What an agent step costs the engine, apart from the model's answer, and how big its prompts are.

1. Step overhead. A 20-step agent run (`stagehand.agent.execute`: click Save twenty times, then
   done) against the scripted model server of the test suite, which answers at once. The engine's
   own time is the operation's running time minus the time its model requests took (each one is
   in the trace); the baseline is the Playwright calls a step makes, made directly on the same
   page in the same run: the snapshot script (21 times) and the clicks (20). Prints medians and
   the ratio engine/raw. The engine side includes the prompt, the trace row, the runtime event,
   the progress update and the execute lock.
2. Snapshot size. The snapshot of three pages of different sizes, in characters and estimated
   tokens (4 characters a token, the providers' rule of thumb for English and markup), next to
   the page's HTML: the model sees the snapshot, not the HTML.
"""

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.runtime_launch import raw_page, run_async  # noqa: E402
from engine.agents.snapshot import _WALK_JS, CHARS_PER_TOKEN, ID_ATTRIBUTE, MAX_ELEMENTS, MAX_TEXT_CHARS  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.model_server import ModelServer, element_id, tool  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

ROUNDS = 5
CLICKS = 20
WALK_ARGS = {
    "maxElements": MAX_ELEMENTS,
    "maxTextChars": MAX_TEXT_CHARS,
    "idAttribute": ID_ATTRIBUTE,
    "secretAttribute": "data-bctrl-secret",
}


def _ms(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000


def engine_rounds(engine: EngineProcess, server: ModelServer, site: TestSite) -> list[float]:
    samples = []
    with engine.client(timeout=120) as client:
        workspace_id = client.post("/workspaces", json={"name": "agent bench"}).json()["id"]
        assert client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "bench"}).status_code == 200
        url = f"/workspaces/{workspace_id}/execute"
        for round_ in range(ROUNDS + 1):
            model = f"bench-{round_}"
            click = lambda seen: tool("click", element=element_id(seen, "button", "Save"))  # noqa: E731
            server.script(model, *([click] * CLICKS), tool("done", success=True, answer="saved"))
            goto = {"call": "page.goto", "args": [f"{site.url}/agent-act.html"]}
            client.post(url, json={"runtime": "bench", "steps": [goto]})
            agent = {
                "call": "stagehand.agent.execute",
                "args": ["Save", {"auth": "platform", "model": model, "maxSteps": CLICKS + 1}],
            }
            operation_id = client.post(url, json={"runtime": "bench", "steps": [agent]}).json()["operation"][
                "id"
            ]
            operation = client.post(f"/operations/{operation_id}/wait", json={"timeoutMs": 120_000}).json()[
                "operation"
            ]
            assert operation["status"] == "succeeded", operation
            trace = client.get(f"/operations/{operation_id}/trace").json()["entries"]
            model_ms = sum(entry["durationMs"] for entry in trace)
            if round_:  # the first round warms up
                samples.append(_ms(operation["startedAt"], operation["finishedAt"]) - model_ms)
    return samples


async def raw_rounds(site: TestSite, scratch: Path) -> list[float]:
    samples = []
    async with raw_page(scratch / "raw") as page:
        for round_ in range(ROUNDS + 1):
            await page.goto(f"{site.url}/agent-act.html")
            started = time.perf_counter()
            for _ in range(CLICKS):
                raw = await page.evaluate(_WALK_JS, WALK_ARGS)
                save = next(i for i in raw["items"] if i.get("name") == "Save")
                await page.locator(f'[{ID_ATTRIBUTE}="{save["id"]}"]').click()
            await page.evaluate(_WALK_JS, WALK_ARGS)
            if round_:
                samples.append((time.perf_counter() - started) * 1000)
    return samples


def write_pages(directory: Path) -> dict[str, Path]:
    """Three pages: the suite's small draft page, a medium shop page, a large link-heavy one."""
    medium = ["<!doctype html><title>Shop</title><h1>Shop</h1><form>"]
    medium += [f'<label>Field {i} <input name="f{i}"></label>' for i in range(10)]
    medium += ["<button>Search</button></form><table>"]
    medium += [
        f"<tr><td>Product {i}</td><td>{i * 3}.99</td><td><a href='/p/{i}'>Buy</a></td></tr>"
        for i in range(40)
    ]
    medium += ["</table>"]
    large = ["<!doctype html><title>Portal</title><h1>Portal</h1><nav>"]
    large += [f"<a href='/section/{i}'>Section {i}</a>" for i in range(600)]
    large += ["</nav>"]
    large += [f"<p>Paragraph {i}: " + "lorem ipsum dolor sit amet " * 8 + "</p>" for i in range(300)]
    pages = {"small": ROOT / "tests" / "pages" / "agent-act.html"}
    for name, parts in (("medium", medium), ("large", large)):
        path = directory / f"{name}.html"
        path.write_text("\n".join(parts))
        pages[name] = path
    return pages


async def snapshot_sizes(site: TestSite, scratch: Path, pages: dict[str, Path]) -> list[str]:
    from engine.agents.snapshot import Snapshot

    lines = []
    async with raw_page(scratch / "sizes") as page:
        for name, path in pages.items():
            await page.goto(f"{site.url}/{path.name}")
            raw = await page.evaluate(_WALK_JS, WALK_ARGS)
            shot = Snapshot(
                raw["url"],
                raw["title"],
                raw["items"],
                raw["skippedElements"],
                raw["skippedTextChars"],
                raw["scroll"],
            )
            text = shot.render()
            html = path.read_text()
            elements = len(shot.elements)
            lines.append(
                f"  {name:<6} html {len(html):>7} chars ≈ {len(html) // CHARS_PER_TOKEN:>6} tokens │ snapshot"
                f" {len(text):>6} chars ≈ {shot.estimated_tokens():>5} tokens, {elements} elements"
                + (f" (+{shot.skipped_elements} left out)" if shot.skipped_elements else "")
                + (f", {shot.skipped_text_chars} text chars left out" if shot.skipped_text_chars else "")
            )
    return lines


def main() -> None:
    server = ModelServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "site"
        served.mkdir()
        pages = write_pages(served)
        for source in (ROOT / "tests" / "pages").glob("agent-*.html"):
            (served / source.name).write_text(source.read_text())
        site = TestSite(served).start()
        engine = EngineProcess(
            Path(tmp) / "engine",
            {
                "ENGINE_AI_PROVIDER": "openai-compatible",
                "ENGINE_AI_BASE_URL": server.base_url("openai"),
                "ENGINE_AI_API_KEY": "sk-bench",
            },
            allow=site.host_port,
        ).start()
        try:
            raw = run_async(raw_rounds(site, Path(tmp)))
            api = engine_rounds(engine, server, site)
            raw += run_async(raw_rounds(site, Path(tmp)))
            sizes = run_async(snapshot_sizes(site, Path(tmp), pages))
        finally:
            engine.stop()
            site.stop()
            server.stop()
    engine_median, raw_median = statistics.median(api), statistics.median(raw)
    steps = CLICKS + 1
    print(
        f"Agent step overhead: {CLICKS} clicks + done, median of {len(api)} (engine) and {len(raw)} (raw) rounds"
    )
    print(
        f"  engine, model time excluded : {engine_median:7.1f} ms  ({engine_median / steps:5.1f} ms a step)"
    )
    print(f"  raw Playwright calls        : {raw_median:7.1f} ms  ({raw_median / steps:5.1f} ms a step)")
    print(f"  ratio engine/raw            : {engine_median / raw_median:7.2f}")
    print(f"Snapshot size (≈ tokens at {CHARS_PER_TOKEN} chars a token)")
    for line in sizes:
        print(line)


if __name__ == "__main__":
    main()
