"""Write audit entries. Callers pass names and ids only — never a secret value.

An action the API refused (`error`) is recorded as failed; so is one the API ran and reported as
failed in its answer (a step run whose status is `failed`): pass `outcome="failed"` and say why.
"""

from django.http import HttpRequest

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.errors import BctrlError


async def record(
    request: HttpRequest,
    action: str,
    target_type: str = "",
    target_id: str = "",
    *,
    target_name: str = "",
    error: BctrlError | None = None,
    outcome: str | None = None,
    request_id: str = "",
    message: str = "",
) -> AuditEntry:
    user = await request.auser()
    if outcome is None:
        outcome = AuditEntry.Outcome.FAILED if error else AuditEntry.Outcome.SUCCEEDED
    return await AuditEntry.objects.acreate(
        user=user if user.is_authenticated else None,
        username=getattr(user, "username", "") or "anonymous",
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:300],
        target_name=str(target_name)[:300],
        outcome=outcome,
        status=error.status if error else None,
        request_id=(error.request_id if error else request_id) or "",
        message=(error.message if error else message)[:2000],
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )


def target_type_of(action: str) -> str:
    """The target type an action names: `runtime.stop` → `runtime`, `storage.object.upload` → `storage_object`."""
    return action.rsplit(".", 1)[0].replace(".", "_")


async def audit(
    request: HttpRequest,
    action: str,
    target_id: object = "",
    *,
    target_name: str = "",
    error: BctrlError | None = None,
    outcome: str | None = None,
    message: str = "",
) -> AuditEntry:
    """`record` an action on the target its name says (see `target_type_of`)."""
    return await record(
        request,
        action,
        target_type_of(action),
        str(target_id),
        target_name=target_name,
        error=error,
        outcome=outcome,
        message=message,
    )
