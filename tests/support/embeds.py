"""Open the engine's embedded pages the way the console does: in an iframe on another origin.

The suite's site serves `embed-host.html` on `localhost`; the engine hands out iframe URLs on
`127.0.0.1`: two origins, so every test of a viewer or player runs cross-origin.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

from playwright.sync_api import Browser, ConsoleMessage, Frame, Page

from tests.support.site import TestSite

# Reads the colour of the picture the embedded page shows, at a point given as fractions.
PIXEL_JS = """([fx, fy]) => {
  const canvas = document.getElementById("screen");
  if (!canvas || !canvas.width) return null;
  const x = Math.floor(canvas.width * fx), y = Math.floor(canvas.height * fy);
  const d = canvas.getContext("2d").getImageData(x, y, 1, 1).data;
  return [d[0], d[1], d[2]];
}"""
# True once the picture at (fx, fy) is close to rgb (JPEG shifts colours a little).
COLOUR_IS_JS = (
    "([fx, fy, r, g, b]) => { const p = ("
    + PIXEL_JS
    + ")([fx, fy]); return !!p && Math.abs(p[0]-r) < 40 && Math.abs(p[1]-g) < 40 && Math.abs(p[2]-b) < 40; }"
)


@dataclass
class Embedded:
    page: Page
    frame: Frame
    console: list[str] = field(default_factory=list)

    def state(self) -> str | None:
        return self.frame.evaluate("() => document.body.dataset.state")

    def data(self) -> dict[str, str]:
        return self.frame.evaluate("() => ({...document.body.dataset})")

    def wait_state(self, state: str, timeout: float = 20_000) -> None:
        self.frame.wait_for_function(f"() => document.body.dataset.state === {state!r}", timeout=timeout)

    def wait_colour(self, fx: float, fy: float, rgb: tuple[int, int, int], timeout: float = 20_000) -> None:
        self.frame.wait_for_function(COLOUR_IS_JS, arg=[fx, fy, *rgb], timeout=timeout)

    def colour(self, fx: float, fy: float) -> list[int] | None:
        return self.frame.evaluate(PIXEL_JS, [fx, fy])

    def click_at(self, fx: float, fy: float, **options: object) -> None:
        """Click the picture at a point given as fractions of the page it shows."""
        box = self.frame.locator("#screen").bounding_box()
        assert box is not None
        self.page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"], **options)

    def csp_violations(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text or "Refused to" in text]


@contextmanager
def embedded(
    browser: Browser, site: TestSite, iframe_url: str, width: int = 660, height: int = 460
) -> Iterator[Embedded]:
    """A page on the site's other origin (localhost) with `iframe_url` in an iframe; closed after."""
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    console: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        console.append(message.text)

    page.on("console", keep)
    host = site.url.replace("127.0.0.1", "localhost")
    page.goto(f"{host}/embed-host.html?w={width}&h={height}&src={quote(iframe_url, safe='')}")
    handle = page.wait_for_selector("#embed")
    frame = handle.content_frame() if handle else None
    assert frame is not None
    frame.wait_for_load_state()
    try:
        yield Embedded(page, frame, console)
    finally:
        context.close()
