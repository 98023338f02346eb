"""Reading a page's HTML in tests: a region by its id, parsed, not cut out of the string."""

from bs4 import BeautifulSoup


def region(html: str, element_id: str) -> str:
    """The element with `element_id` (itself and all it holds) as HTML; fails when the page has none."""
    found = BeautifulSoup(html, "html.parser").find(id=element_id)
    assert found is not None, f"no element with id={element_id!r} on the page"
    return str(found)
