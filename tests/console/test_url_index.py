"""docs/console.md indexes every console URL to its view: the table and the URLconf agree."""

import re
from collections.abc import Iterator
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

DOC = Path(__file__).resolve().parents[2] / "docs" / "console.md"
ROW = re.compile(r"^\| `(?P<url>[^`]+)` \| `(?P<view>[^`]+)` \| (?P<name>\S*) \|$")


def _routes(patterns: list, prefix: str = "") -> Iterator[tuple[str, str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
            continue
        assert isinstance(pattern, URLPattern)
        view = getattr(pattern.callback, "view_class", None) or pattern.callback
        while hasattr(view, "__wrapped__"):  # the decorators' wrappers
            view = view.__wrapped__
        yield f"/{prefix}{pattern.pattern}", f"{view.__module__}.{view.__qualname__}", pattern.name or ""


def test_the_url_table_lists_every_route_and_its_view() -> None:
    documented = {
        (m["url"], m["view"], m["name"]) for line in DOC.read_text().splitlines() if (m := ROW.match(line))
    }
    served = set(_routes(get_resolver().url_patterns))
    missing = "\n".join(f"| `{u}` | `{v}` | {n} |" for u, v, n in sorted(served - documented))
    assert not missing, f"docs/console.md's URL table lacks:\n{missing}"
    assert not documented - served, (
        f"docs/console.md lists routes the console does not serve: {documented - served}"
    )
