"""A page's accessibility problems: axe-core's violations (injected from node_modules), and what
scrolls sideways on a 390 px wide phone."""

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = 390


def violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"], iframes: false})).violations
             .map(v => `${v.id} (${v.impact}): ${v.help} at ` + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join("; "))"""
    )
    return list(found)


def too_wide(page: Page) -> str:
    """'' when nothing scrolls sideways at the phone's width, else what sticks out."""
    page.set_viewport_size({"width": PHONE, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    if width <= PHONE:
        return ""
    culprits = page.evaluate(
        """w => [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > w + 1)
             .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= w + 1)
             .slice(0, 4).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""))""",
        PHONE,
    )
    return f"{width} px wide: {', '.join(culprits)}"


def problems_of(page: Page) -> list[str]:
    """axe-core's violations at desktop width, then whatever scrolls sideways at the phone's."""
    found = violations(page)
    wide = too_wide(page)
    if wide:
        found.append(f"scrolls sideways at {PHONE} px: {wide}")
    page.set_viewport_size({"width": 1280, "height": 860})
    return found
