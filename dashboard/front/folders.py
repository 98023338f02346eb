"""Folders of path-like names (storage object paths, vault keys): prefixes, parents, breadcrumbs.

A prefix is '' (the root) or 'a/b/': the form the API's `prefix` filters take.
"""

import re

from django.utils.http import urlencode


def folder_prefix(raw: str, pattern: re.Pattern[str] | None = None) -> str:
    """A prefix from what a URL carried; anything `pattern` refuses becomes the root."""
    folder = raw.strip().strip("/")
    if not folder or (pattern is not None and not pattern.match(folder)):
        return ""
    return f"{folder}/"


def parent_folder(path: str) -> str:
    """The prefix a path sits in: prod/crm/login → prod/crm/."""
    return path.rsplit("/", 1)[0] + "/" if "/" in path else ""


def crumbs(prefix: str) -> list[tuple[str, str]]:
    """(name, prefix) of every folder down to `prefix`: a/b/ → [(a, a/), (b, a/b/)]."""
    parts = prefix.strip("/").split("/") if prefix else []
    return [(part, "/".join(parts[: i + 1]) + "/") for i, part in enumerate(parts)]


def folder_url(url: str, prefix: str) -> str:
    """A listing page's URL opened at `prefix`."""
    return f"{url}?{urlencode({'prefix': prefix})}" if prefix else url
