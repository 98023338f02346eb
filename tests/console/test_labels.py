"""Statuses and stop reasons of the API read as words on every page ("timed out", "engine shut
down"), never as the API's identifiers (`Timed_out`, `engine_shutdown`)."""

from django.template import Context, Template


def _render(source: str, **context: object) -> str:
    return Template(source).render(Context(context))


def test_statuses_and_stop_reasons_are_words() -> None:
    assert _render("{{ s|label|capfirst }}", s="timed_out") == "Timed out"
    assert _render("{{ s|label }}", s="vault.forbidden") == "vault forbidden"
    assert _render("{{ r|stop_reason }}", r="engine_shutdown") == "engine shut down"
    assert _render("{{ r|stop_reason }}", r="requested") == "stopped on request"
    assert _render("{{ r|stop_reason }}", r="something_new") == "something new"  # unknown: still words


def test_the_status_badge_says_why_a_run_ended_in_words() -> None:
    badge = _render(
        '{% include "live/fragments.html#runtime_status" with runtime_id="r1" status="failed" stop_reason="engine_shutdown" %}'
    )
    assert "engine shut down" in badge and "engine_shutdown" not in badge
