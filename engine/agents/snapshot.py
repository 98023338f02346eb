"""What a model sees of a page: a compact, simplified DOM with stable element ids.

One `page.evaluate` walks the visible DOM of the main frame in document order and returns the
interactive elements (links, buttons, inputs, selects, text areas, ARIA widgets) with their role,
accessible name and state, interleaved with the page's text. Each interactive element is marked
with a `data-bctrl-id` attribute (`e1`, `e2`...): an element keeps its id across snapshots, so
the model refers to "[e7]" and the engine acts on exactly that element.

Secrets never enter a snapshot: a password field, or a field the agent filled from the vault
(marked `data-bctrl-secret`), shows only whether it is filled, never its value.

Limits keep a prompt small on large pages: at most MAX_ELEMENTS elements and MAX_TEXT_CHARS of
text; what was left out is counted in the snapshot. Frames other than the main one are not
walked (an agent that needs one navigates to it).
"""

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from engine.runtimes.seal import SECRET_ATTRIBUTE
from engine.steps.registry import StepError

ID_ATTRIBUTE = "data-bctrl-id"
MAX_ELEMENTS = 300
MAX_TEXT_CHARS = 6000
# A common rule of thumb for English text and markup in the BPE tokenizers of the providers we
# speak to; only used to report sizes (bench/agent_overhead.py), never to cut a prompt.
CHARS_PER_TOKEN = 4

_WALK_JS = """
({maxElements, maxTextChars, idAttribute, secretAttribute}) => {
  let next = 0;
  for (const el of document.querySelectorAll('[' + idAttribute + ']')) {
    const n = parseInt((el.getAttribute(idAttribute) || '').slice(1), 10);
    if (n > next) next = n;
  }
  const ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'textbox', 'combobox', 'listbox',
    'option', 'menuitem', 'tab', 'switch', 'searchbox', 'slider', 'spinbutton']);
  const SKIP = new Set(['script', 'style', 'noscript', 'template', 'svg', 'head', 'iframe', 'canvas',
    'object', 'embed']);
  const BLOCK_TEXT = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'li', 'td', 'th', 'dt', 'dd',
    'pre', 'blockquote', 'caption', 'figcaption', 'legend']);
  const INTERACTIVE = 'a[href], button, input:not([type=hidden]), select, textarea, summary, ' +
    '[role], [contenteditable]';
  const clean = (text, limit) => (text || '').replace(/\\s+/g, ' ').trim().slice(0, limit);
  const items = [];
  let elements = 0, skippedElements = 0, textChars = 0, skippedText = 0;

  const interactive = (el) => {
    const tag = el.tagName.toLowerCase();
    if (tag === 'input') return (el.type || '').toLowerCase() !== 'hidden';
    if (['button', 'select', 'textarea', 'summary'].includes(tag)) return true;
    if (tag === 'a') return el.hasAttribute('href');
    const role = el.getAttribute('role');
    if (role && ROLES.has(role)) return true;
    return el.isContentEditable && !(el.parentElement && el.parentElement.isContentEditable);
  };
  const roleOf = (el) => {
    const explicit = el.getAttribute('role');
    if (explicit) return explicit;
    const tag = el.tagName.toLowerCase();
    if (tag === 'a') return 'link';
    if (tag === 'button' || tag === 'summary') return 'button';
    if (tag === 'select') return el.multiple ? 'listbox' : 'combobox';
    if (tag === 'textarea') return 'textbox';
    if (tag === 'input') {
      const type = (el.type || 'text').toLowerCase();
      if (['button', 'submit', 'reset', 'image'].includes(type)) return 'button';
      if (type === 'checkbox' || type === 'radio') return type;
      if (type === 'range') return 'slider';
      if (type === 'number') return 'spinbutton';
      if (type === 'search') return 'searchbox';
      return 'textbox';
    }
    return 'textbox';
  };
  const nameOf = (el) => {
    const aria = el.getAttribute('aria-label');
    if (clean(aria, 80)) return clean(aria, 80);
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const text = by.split(/\\s+/).map((id) => document.getElementById(id)).filter(Boolean)
        .map((node) => node.innerText).join(' ');
      if (clean(text, 80)) return clean(text, 80);
    }
    if (el.labels && el.labels.length) {
      // A label wrapping its control would otherwise name a select by all its options.
      const own = (label) => {
        const copy = label.cloneNode(true);
        for (const control of copy.querySelectorAll('select, input, textarea, button')) control.remove();
        return copy.textContent;
      };
      const text = Array.from(el.labels).map(own).join(' ');
      if (clean(text, 80)) return clean(text, 80);
    }
    const tag = el.tagName.toLowerCase();
    const type = (el.type || '').toLowerCase();
    if (tag === 'input' && ['button', 'submit', 'reset'].includes(type)) return clean(el.value || type, 80);
    if (tag === 'input' || tag === 'textarea' || tag === 'select') {
      return clean(el.placeholder || el.title || el.getAttribute('name') || '', 80);
    }
    return clean(el.innerText || el.title || el.getAttribute('alt') || '', 80);
  };
  const unique = (selector) => {
    try { return document.querySelectorAll(selector).length === 1; } catch (e) { return false; }
  };
  const selectorOf = (el) => {
    if (el.id && unique('#' + CSS.escape(el.id))) return '#' + CSS.escape(el.id);
    const tag = el.tagName.toLowerCase();
    const name = el.getAttribute('name');
    if (name && unique(tag + '[name="' + CSS.escape(name) + '"]')) return tag + '[name="' + CSS.escape(name) + '"]';
    const parts = [];
    for (let node = el; node && node.nodeType === 1 && node !== document.documentElement; node = node.parentElement) {
      if (node !== el && node.id && unique('#' + CSS.escape(node.id))) { parts.unshift('#' + CSS.escape(node.id)); break; }
      const same = node.parentElement
        ? Array.from(node.parentElement.children).filter((c) => c.tagName === node.tagName) : [];
      const t = node.tagName.toLowerCase();
      parts.unshift(same.length > 1 ? t + ':nth-of-type(' + (same.indexOf(node) + 1) + ')' : t);
    }
    return parts.join(' > ');
  };
  const stateOf = (el, item) => {
    const tag = el.tagName.toLowerCase();
    const type = (el.type || '').toLowerCase();
    if (el.disabled) item.disabled = true;
    if (tag === 'select') {
      item.options = Array.from(el.options).slice(0, 30).map((o) => clean(o.label || o.text, 40));
      item.value = Array.from(el.selectedOptions).map((o) => clean(o.label || o.text, 40)).join(', ');
    } else if (type === 'checkbox' || type === 'radio') {
      item.checked = el.checked;
    } else if ((tag === 'input' && !['button', 'submit', 'reset', 'image'].includes(type)) || tag === 'textarea') {
      if (type) item.type = type;
      if (type === 'password' || el.hasAttribute(secretAttribute)) {
        item.secret = true;
        item.filled = (el.value || '').length > 0;
      } else {
        item.value = clean(el.value, 120);
      }
    } else if (tag === 'a') {
      item.href = clean(el.getAttribute('href'), 120);
    }
  };
  const addText = (text, prefix) => {
    const line = clean(text, 200);
    if (!line) return;
    if (textChars + line.length > maxTextChars) { skippedText += line.length; return; }
    textChars += line.length;
    items.push({kind: 'text', text: prefix + line});
  };
  const sized = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const walk = (el) => {
    const tag = el.tagName.toLowerCase();
    if (SKIP.has(tag)) return;
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) return;
    if (interactive(el)) {
      if (!sized(el)) return;
      if (elements >= maxElements) { skippedElements += 1; return; }
      elements += 1;
      let id = el.getAttribute(idAttribute);
      if (!id) { next += 1; id = 'e' + next; el.setAttribute(idAttribute, id); }
      const item = {kind: 'element', id, role: roleOf(el), name: nameOf(el), selector: selectorOf(el)};
      stateOf(el, item);
      items.push(item);
      return;
    }
    if (tag === 'tr' && !el.querySelector(INTERACTIVE)) {
      addText(Array.from(el.cells).map((cell) => clean(cell.innerText, 80)).join(' | '), '| ');
      return;
    }
    if (BLOCK_TEXT.has(tag) && !el.querySelector(INTERACTIVE)) {
      addText(el.innerText, /^h[1-6]$/.test(tag) ? '#'.repeat(Number(tag[1])) + ' ' : '');
      return;
    }
    for (const child of el.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) addText(child.textContent, '');
      else if (child.nodeType === Node.ELEMENT_NODE) walk(child);
    }
  };
  if (document.body) walk(document.body);
  return {
    url: location.href,
    title: document.title,
    items,
    skippedElements,
    skippedTextChars: skippedText,
    scroll: {y: Math.round(window.scrollY), height: document.documentElement.scrollHeight,
             viewport: window.innerHeight},
  };
}
"""


@dataclass
class Snapshot:
    url: str
    title: str
    items: list[dict[str, Any]]
    skipped_elements: int = 0
    skipped_text_chars: int = 0
    scroll: dict[str, int] = field(default_factory=dict)

    @property
    def elements(self) -> dict[str, dict[str, Any]]:
        return {item["id"]: item for item in self.items if item["kind"] == "element"}

    def render(self) -> str:
        """The snapshot as prompt text: one line per element or text run, in page order."""
        lines = [f"Title: {self.title}", f"URL: {self.url}"]
        if self.scroll:
            lines.append(
                f"Scrolled to {self.scroll.get('y', 0)} of {self.scroll.get('height', 0)} px"
                f" (viewport {self.scroll.get('viewport', 0)} px)"
            )
        lines.append("---")
        for item in self.items:
            lines.append(describe(item) if item["kind"] == "element" else item["text"])
        if self.skipped_elements:
            lines.append(f"({self.skipped_elements} more elements not shown)")
        if self.skipped_text_chars:
            lines.append(f"({self.skipped_text_chars} more characters of text not shown)")
        return "\n".join(lines)

    def estimated_tokens(self) -> int:
        return math.ceil(len(self.render()) / CHARS_PER_TOKEN)


def describe(element: dict[str, Any]) -> str:
    """One element as the model sees it: `[e3] textbox "Email" value="ada@example.org"`."""
    parts = [f"[{element['id']}] {element['role']} {_quoted(element.get('name') or '')}"]
    if element.get("type") and element["type"] not in ("text", element["role"]):
        parts.append(f"type={element['type']}")
    if element.get("secret"):
        parts.append("(secret, filled)" if element.get("filled") else "(secret, empty)")
    elif "value" in element:
        parts.append(f"value={_quoted(element['value'])}")
    if "checked" in element:
        parts.append(f"checked={'true' if element['checked'] else 'false'}")
    if element.get("options"):
        parts.append("options=[" + ", ".join(element["options"]) + "]")
    if element.get("href"):
        parts.append(f"href={element['href']}")
    if element.get("disabled"):
        parts.append("disabled")
    return " ".join(parts)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


async def take(page: Page, redact: Callable[[Any], Any] = lambda v: v, tries: int = 3) -> Snapshot:
    """A snapshot of `page`, waiting out a navigation the last action started (a navigation
    destroys the document the snapshot script runs in). `redact` (the runtime's seal) replaces
    any filled secret a page put where the snapshot reads (a URL, a title, a label)."""
    for attempt in range(1, tries + 1):
        try:
            return _redacted(await _take_once(page), redact)
        except PlaywrightError as exc:
            if page.is_closed() or attempt == tries:
                first = (exc.message or "").strip().splitlines()[:1]
                raise StepError(
                    "step.failed",
                    "Could not read the page: " + (first[0] if first else "the page is gone")[:300],
                ) from exc
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_load_state("domcontentloaded", timeout=5_000)
    raise AssertionError("unreachable")


async def _take_once(page: Page) -> Snapshot:
    raw = await page.evaluate(
        _WALK_JS,
        {
            "maxElements": MAX_ELEMENTS,
            "maxTextChars": MAX_TEXT_CHARS,
            "idAttribute": ID_ATTRIBUTE,
            "secretAttribute": SECRET_ATTRIBUTE,
        },
    )
    return Snapshot(
        url=raw["url"],
        title=raw["title"],
        items=raw["items"],
        skipped_elements=raw["skippedElements"],
        skipped_text_chars=raw["skippedTextChars"],
        scroll=raw["scroll"],
    )


def _redacted(seen: Snapshot, redact: Callable[[Any], Any]) -> Snapshot:
    seen.url, seen.title, seen.items = redact(seen.url), redact(seen.title), redact(seen.items)
    return seen


def locator_for(element_id: str) -> str:
    """The selector of an element the snapshot marked (ids are checked by the caller)."""
    return f'[{ID_ATTRIBUTE}="{element_id}"]'
