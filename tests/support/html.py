"""Reading a page's HTML in tests: parts found by an HTML parser, not cut out of the string.

Each helper takes HTML and gives back HTML (or a string read from it), so checks stay `in` tests
on text. The HTML given back is BeautifulSoup's: attributes in double quotes, a bare attribute as
`selected=""`, `&#x27;` as `'`. Every lookup fails, naming what it looked for, when the page has
none: a check on a part that is missing fails rather than passing on an empty string.
"""

from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup


def _parse(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def region(html: str, element_id: str) -> str:
    """The element with `element_id` (itself and all it holds) as HTML; fails when the page has none."""
    found = _parse(html).find(id=element_id)
    assert found is not None, f"no element with id={element_id!r} on the page"
    return str(found)


def element(html: str, css: str) -> str:
    """The first element matching the CSS selector `css`, as HTML; fails when none does."""
    found = _parse(html).select_one(css)
    assert found is not None, f"no element matching {css!r} on the page"
    return str(found)


def elements(html: str, css: str) -> list[str]:
    """Every element matching the CSS selector `css`, in page order, as HTML (none: an empty list)."""
    return [str(found) for found in _parse(html).select(css)]


def attribute(html: str, css: str, name: str) -> str:
    """The attribute `name` of the first element matching `css`, its entities decoded; fails when none has it."""
    found = _parse(html).select_one(css)
    assert found is not None, f"no element matching {css!r} on the page"
    value = found.get(name)
    assert value is not None, f"the element matching {css!r} has no {name!r} attribute"
    return " ".join(value) if isinstance(value, list) else value  # class and the like come as lists


def text(html: str) -> str:
    """The text of `html` (the DOM's textContent: entities decoded, tags dropped, nothing put between
    elements), stripped at both ends."""
    return _parse(html).get_text().strip()


def row(html: str, holding: str) -> str:
    """The first table row (<tr>) whose HTML holds `holding`; fails when none does."""
    found = next((tr for tr in elements(html, "tr") if holding in tr), None)
    assert found is not None, f"no table row holding {holding!r} on the page"
    return found


def link_query(html: str, label: str) -> dict[str, str]:
    """The query of the link (<a>) reading `label`, one value a name; fails when there is no such link."""
    found = _parse(html).find("a", string=lambda s: s is not None and s.strip() == label)
    assert found is not None, f"no link reading {label!r} on the page"
    href = found.get("href")
    assert isinstance(href, str), f"the link {label!r} has no href"
    return {
        name: values[-1] for name, values in parse_qs(urlsplit(href).query, keep_blank_values=True).items()
    }


def definition(html: str, term: str) -> str:
    """The text of the <dd> after the <dt> reading `term` (a description list's value); fails when none."""
    found = _parse(html).find("dt", string=lambda s: s is not None and s.strip() == term)
    assert found is not None, f"no <dt> reading {term!r} on the page"
    value = found.find_next_sibling("dd")
    assert value is not None, f"the <dt> {term!r} has no <dd>"
    return value.get_text().strip()
