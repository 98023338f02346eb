"""Filters every console template uses, built in (settings.TEMPLATES `builtins`): no {% load %}.

- `when`: the one way a moment is shown, `2026-11-29 08:53:57 CET`, in the viewer's time zone
  (their setting, activated per request by dashboard.accounts.middleware), with the zone named;
  `|when:"time"` drops the date, for timelines of one run. The element carries the ISO instant
  and, as its title, how long ago it was.
- `human_size`: bytes in the units browsers show (100 MB).
- `duration`: seconds as `1 h 20 min`, `45 s`.
"""

from datetime import datetime

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

register = template.Library()

FORMATS = {"": "%Y-%m-%d %H:%M:%S %Z", "time": "%H:%M:%S %Z", "date": "%Y-%m-%d"}


@register.filter
def when(value: datetime | None, part: str = "") -> SafeString | str:
    if not isinstance(value, datetime):
        return "—"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    ago = timesince(value) if timezone.is_aware(value) else ""
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        f"{ago} ago" if ago else "",
        local.strftime(FORMATS.get(part, FORMATS[""])),
    )


@register.filter
def human_size(value: int | None) -> str:
    """100 MB, 1.5 GB: a size or a limit in the units browsers show (binary)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    return str(filesizeformat(value)).replace("\xa0", " ").replace(".0 ", " ")


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
