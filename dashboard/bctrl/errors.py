"""One exception family for everything the API (or the road to it) can answer."""

from typing import Any

RATE_SETTING = "ENGINE_RATE_LIMIT_PER_MINUTE"  # the one 429 `details.limit` that is a rate, not a capacity


class BctrlError(Exception):
    """An API call that did not succeed.

    `status` is the HTTP status (0 when the API could not be reached), `code` the contract's
    dotted code, `transient` whether trying again later may help.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        transient: bool = False,
        retry_after: float | None = None,
        not_offered: bool | None = None,
        maybe_done: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details if isinstance(details, dict) else {}
        self.transient = transient
        self.retry_after = retry_after
        # Set by the client, which knows the route and the API's surface (surface.py).
        self._not_offered = not_offered
        # A write that may have been done though no answer said so (timed out, cut off, a 5xx).
        self.maybe_done = maybe_done

    @property
    def field_errors(self) -> dict[str, str]:
        """`details.fields` as {path: message}, for showing next to form fields."""
        return {f.get("path", ""): f.get("message", "") for f in self.details.get("fields", []) or []}

    @property
    def capacity_limit(self) -> str | None:
        """The setting of a capacity limit that refused the call (`details.limit`: runtimes, waits
        or browser uids held at once), as opposed to a rate. Waiting alone does not free capacity."""
        limit = self.details.get("limit") if self.status in (429, 503) else None
        return limit if isinstance(limit, str) and limit and limit != RATE_SETTING else None

    @property
    def not_offered(self) -> bool:
        """The API has no such route: an older engine, or an API that offers only the public surface.

        The client decides it (a 404/405/501 on one of our own routes the API's document does not
        list); an error made without that knowledge falls back to what its status and code say."""
        if self._not_offered is not None:
            return self._not_offered
        return self.code == "request.not_found" or self.status in (405, 501)

    @not_offered.setter
    def not_offered(self, value: bool) -> None:
        self._not_offered = value

    @property
    def retryable(self) -> bool:
        """Whether the same request may work in a moment (unreachable, timed out, 5xx, 429):
        a page offers Retry only then, never for a 404 or a refusal."""
        return self.transient or self.status == 0 or self.status >= 500 or self.status == 429

    @property
    def user_message(self) -> str:
        """What happened and what to do next, in the operator's words."""
        hint = {
            0: "Check that the engine is running (manage.py up) or that BCTRL_API_URL is right, then retry.",
            401: "The console's API key was refused. Check BCTRL_API_KEY.",
            403: "Check the scope of the console's API key and the workspace's mounts.",
            404: "It no longer exists; it may have been deleted by someone else.",
            409: "It conflicts with the current state; refresh and try again.",
            429: "The API is rate limiting the console; wait a moment and retry.",
        }.get(self.status)
        if self.status == 429 and not self.details.get("limit"):
            # an API that does not say which limit: its message may; both kinds are possible
            hint = "The API refused it for now: free what its message names, or wait a moment and retry."
        if self.status >= 500:
            hint = "The API failed; retry, and if it persists check the engine's log."
        if self.capacity_limit:
            hint = f"It is a capacity limit ({self.capacity_limit}): waiting alone will not free it."
        if self.status == 504 or self.code == "request.timeout":
            hint = "The API did not answer in time; retry in a moment."
        if self.not_offered:
            # a route the API does not have, not a deleted thing: an older engine or another API version
            hint = (
                "This API does not offer it (an older engine, or an API with only the public BCTRL surface)."
            )
        if isinstance(self, UnexpectedAnswer):
            hint = "Check that BCTRL_API_URL points at a BCTRL v1 API."
        if isinstance(self, OutcomeUnknown):
            hint = "Check the list before trying again: trying again may make a second one."
        return f"{self.message} {hint}" if hint and hint not in self.message else self.message

    def __repr__(self) -> str:
        return f"BctrlError({self.status}, {self.code!r}, {self.message!r}, request_id={self.request_id!r})"


class NotFound(BctrlError):
    pass


class Conflict(BctrlError):
    pass


class Forbidden(BctrlError):
    pass


class Unauthorized(BctrlError):
    pass


class RateLimited(BctrlError):
    pass


class InvalidRequest(BctrlError):
    pass


class Unavailable(BctrlError):
    """The API could not be reached, timed out, or answered 5xx."""


class UnexpectedAnswer(BctrlError):
    """The API answered 2xx with something the contract does not describe (not JSON, a list missing)."""


class OutcomeUnknown(BctrlError):
    """A create that may or may not have been done: no answer came, the API does not honour a
    repeated Idempotency-Key, and the console could not find what it asked for. Never offered
    as a Retry: trying again could make a second one."""

    def __init__(self, what: str, cause: BctrlError) -> None:
        super().__init__(
            504,
            "request.outcome_unknown",
            f"The API did not confirm {what} ({cause.message.rstrip('.')}), and the console could not "
            f"find it: it may or may not have been made.",
            request_id=cause.request_id,
        )

    @property
    def retryable(self) -> bool:
        return False


BY_STATUS: dict[int, type[BctrlError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
}
