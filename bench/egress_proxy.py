"""What the egress proxy costs a page load: the same Chromium loading the same pages, direct and proxied.

Each round loads a page with 30 images from a site the bench serves on 127.0.0.1 (fresh URLs
every round, so nothing comes from the cache): once with Chromium talking to the site directly,
once through an EgressProxy (engine/egress/proxy.py) that allows the site, in the same process
and event loop as the engine runs it, and once as an isolated runtime's browser runs: started by
the engine's launcher in a network namespace where that proxy's listener is the only way out,
sandboxed as a uid of its own. Prints medians and the ratio proxied/direct (goal ≤ 1.5:
the proxy opens a connection per request, as the engine's runtimes do).
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402

from bench.runtime_launch import ARGS, CHROMIUM_PATH, run_async  # noqa: E402
from engine.egress import launcher  # noqa: E402
from engine.egress.policy import EgressPolicy, parse_allow  # noqa: E402
from engine.egress.proxy import EgressProxy  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

SIDES = ("direct", "proxied", "isolated")
ROUNDS = 10
IMAGES = 30
# The smallest valid PNG (1x1), so the bench measures requests, not bytes.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def make_pages(root: Path) -> None:
    (root / "pixel.png").write_bytes(PIXEL)
    for side in SIDES:
        for n in range(ROUNDS + 1):
            images = "".join(f'<img src="/pixel.png?{side}-{n}-{i}">' for i in range(IMAGES))
            (root / f"{side}-{n}.html").write_text(f"<!doctype html><title>{n}</title>{images}")


async def loads(site: TestSite, scratch: Path, side: str) -> list[float]:
    proxy = None
    options: dict[str, object] = {"executable_path": CHROMIUM_PATH, "args": ARGS}
    lease = None
    if side != "direct":
        proxy = EgressProxy(EgressPolicy(parse_allow(site.host_port)), lambda refusal: None)
        await proxy.start(isolated=side == "isolated")
        options["proxy"] = {"server": proxy.url}
    if side == "isolated" and proxy is not None:
        # As the engine runs a runtime: its browser alone with the proxy in a network namespace.
        lease = launcher.Uids(61287, 1000).lease()
        jailed = launcher.isolating(CHROMIUM_PATH, scratch / "launcher")
        launcher.own(lease.uid, scratch / side)
        options.update(
            executable_path=jailed.executable,
            args=[arg for arg in ARGS if arg != "--no-sandbox"],
            chromium_sandbox=True,
            env={"PATH": os.environ["PATH"]}
            | jailed.environment(proxy.namespace, lease.uid, scratch / side, [scratch / side], []),
        )
    samples = []
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(scratch / side), headless=True, **options
        )
        page = context.pages[0]
        for n in range(ROUNDS + 1):
            started = time.perf_counter()
            await page.goto(f"{site.url}/{side}-{n}.html", wait_until="load")
            elapsed = time.perf_counter() - started
            if n:  # the first load warms the browser for both sides
                samples.append(elapsed)
        await context.close()
    if proxy is not None:
        await proxy.close()
    if lease is not None:
        lease.release()
    return samples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pages = Path(tmp) / "pages"
        pages.mkdir()
        make_pages(pages)
        site = TestSite(root=pages).start()
        try:
            samples: dict[str, list[float]] = {side: [] for side in SIDES}
            for _ in range(2):  # interleaved, so background load hits every side alike
                for side in SIDES:
                    samples[side] += run_async(loads(site, Path(tmp), side))
        finally:
            site.stop()
    direct, proxied, isolated = (statistics.median(samples[side]) for side in SIDES)
    print(f"page load with {IMAGES} images, median of {len(samples['direct'])} each")
    print(f"  direct   Chromium → site            : {direct * 1000:7.1f} ms")
    print(f"  proxied  Chromium → egress → site   : {proxied * 1000:7.1f} ms")
    print(f"  isolated the same, in its namespace : {isolated * 1000:7.1f} ms  (as a runtime runs)")
    print(f"  ratio proxied/direct                : {proxied / direct:7.2f}  (goal ≤ 1.5)")
    print(f"  ratio isolated/direct               : {isolated / direct:7.2f}  (goal ≤ 1.5)")
    # Issue 18: the namespace keeps the proxied page load's speed (proxied time / isolated time).
    print(f"  ratio proxied/isolated              : {proxied / isolated:7.2f}  (goal ≥ 0.9)")


if __name__ == "__main__":
    main()
