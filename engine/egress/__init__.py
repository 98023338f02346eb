"""Egress: what a runtime's browser may open and reach (rules in `policy`, enforcement in `proxy`
and `launcher`). The engine has one policy, built from ENGINE_EGRESS_ALLOW; the ports of its own
listeners (its API, every runtime's proxy) join `own_ports` as they open."""

from functools import cache

from django.conf import settings

from engine.egress.policy import EgressPolicy


@cache
def engine_policy() -> EgressPolicy:
    return EgressPolicy.from_setting(settings.EGRESS_ALLOW)
