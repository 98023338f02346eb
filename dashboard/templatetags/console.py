"""Filters every console template uses, built in (settings.TEMPLATES `builtins`): no {% load %}.

- `when`: the one way a moment is shown, `2026-11-29 08:53:57 CET`, in the viewer's time zone
  (their setting, activated per request by dashboard.accounts.middleware), with the zone named;
  `|when:"time"` drops the date, for timelines of one run. The element carries the ISO instant;
  console.js titles it with how long ago it was when the pointer or focus reaches it.
- `human_size`: bytes in the units browsers show (100 MB).
- `duration`: seconds as `1 h 20 min`, `45 s`.
- `label`: a machine word of the API as words (`timed_out` → `timed out`); `stop_reason`: why a
  run stopped, in words (`engine_shutdown` → `engine shut down`).
- `{% url %}`: Django's, remembering the addresses it made (see RememberedURLNode).
"""

from datetime import datetime
from functools import lru_cache
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaulttags
from django.template.base import Parser, Token
from django.template.context import Context
from django.template.defaultfilters import filesizeformat
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

FORMATS = {"": "%Y-%m-%d %H:%M:%S %Z", "time": "%H:%M:%S %Z", "date": "%Y-%m-%d"}


@register.filter
def when(value: datetime | None, part: str = "") -> SafeString | str:
    if not isinstance(value, datetime):
        return "—"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    # every part is made here from a datetime (digits, unit words, a zone name), none from input:
    # format_html's escaping of each would cost a table of moments more than the rest of a row.
    # How long ago it was is the title console.js gives it when pointed at: right whenever it is
    # read (a title made here would age with the page), and no cost per row here.
    shown = local.strftime(FORMATS.get(part, FORMATS[""]))
    return mark_safe(f'<time datetime="{value.isoformat()}">{shown}</time>')  # noqa: S308


@register.filter
def human_size(value: int | None) -> str:
    """100 MB, 1.5 GB: a size or a limit in the units browsers show (binary)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    return str(filesizeformat(value)).replace("\xa0", " ").replace(".0 ", " ")


# Why a run stopped, as a few words for tables (the runtime page says it in a sentence).
STOP_REASONS = {
    "requested": "stopped on request",
    "idle": "idle timeout",
    "engine_shutdown": "engine shut down",
}


@register.filter
def label(value: object) -> str:
    """`timed_out` → `timed out`: statuses and kinds of the API read as words, never as identifiers."""
    return str(value or "").replace("_", " ").replace(".", " ")


@register.filter
def stop_reason(value: object) -> str:
    return STOP_REASONS.get(str(value or ""), label(value))


@register.filter
def duration(seconds: float | int | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class RememberedURLNode(defaulttags.URLNode):
    """Django's `{% url %}`, remembering each address it reversed.

    Reversing costs tens of microseconds (the resolver tries each pattern of the name with its
    converters); a page reverses one per table row and a score for its navigation, the same ones
    on every render. An address depends only on the name, the arguments, the URLconf and the
    script prefix, all in the key; the memory is bounded and cleared when the URLconf setting
    changes (tests). Rendering as Django's node does: `as var`, autoescape, NoReverseMatch.
    """

    def render(self, context: Context) -> str:
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple(sorted((key, value.resolve(context)) for key, value in self.kwargs.items()))
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", None) or getattr(
            getattr(request, "resolver_match", None), "namespace", None
        )
        try:
            url = _reverse(self.view_name.resolve(context), args, kwargs, current_app, *_where(request))
        except TypeError:  # an argument that cannot be a key (a list): reversed as Django does
            url = reverse(
                self.view_name.resolve(context), args=args, kwargs=dict(kwargs), current_app=current_app
            )
        except NoReverseMatch:
            if self.asvar is None:
                raise
            url = ""
        if self.asvar:
            context[self.asvar] = url
            return ""
        return str(conditional_escape(url)) if context.autoescape else url


def _where(request: Any) -> tuple[Any, str]:
    """The URLconf and the script prefix, read once per request: both are set before a view runs
    and stay for its whole render, and each read is a context-local lookup (a few µs, forty times
    a page)."""
    where: tuple[Any, str] | None = getattr(request, "_console_url_where", None)
    if where is None:
        where = (get_urlconf(), get_script_prefix())
        if request is not None:
            request._console_url_where = where
    return where


@lru_cache(maxsize=4096)
def _reverse(
    view_name: str,
    args: tuple[Any, ...],
    kwargs: tuple[tuple[str, Any], ...],
    current_app: str | None,
    *_: Any,
) -> str:
    # the URLconf and the script prefix are part of the key only
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)


@receiver(setting_changed, dispatch_uid="console.urls_changed")
def _forget_addresses(setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":
        _reverse.cache_clear()


@register.tag
def url(parser: Parser, token: Token) -> RememberedURLNode:
    node = defaulttags.url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
