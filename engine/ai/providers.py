"""Provider wire details and the cheap "does this key work" check behind `POST .../test`.

The check lists the provider's models: it is free, needs only a valid key, and every provider
has it. It goes through the egress policy like every call of the engine (a `baseUrl` on a
refused address is `navigation.blocked`, nothing sent), and its messages are fixed sentences:
never the key, never what the provider (or whatever answers at `baseUrl`) sent back.
"""

import re
from dataclasses import dataclass
from typing import Literal

import httpx

from engine.egress.outbound import Refused, judged_transport
from engine.egress.policy import Refusal

PROVIDERS = ("openai", "anthropic", "google", "openai-compatible")
Provider = Literal["openai", "anthropic", "google", "openai-compatible"]
CREDENTIAL_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "google": "https://generativelanguage.googleapis.com/v1beta",
}
ANTHROPIC_VERSION = "2023-06-01"
TEST_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Provider keys are printable ASCII; anything else could never be sent in a header.
API_KEY_PATTERN = r"^[\x21-\x7e]+$"
# A model name: no whitespace, no `?`, `#`, `%` or `\\`, and (checked apart) no `..`; Google's goes
# into the URL path. `/` is allowed here for the providers that send the model in the body
# (OpenRouter's `openai/gpt-4o`, vLLM's `org/model`); `model_problem` refuses it in a path.
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,199}$"
MODEL_RULE = "a model name is letters, digits and . _ : @ + - / (no `..`, `?`, `#` or spaces)"
PATH_PROVIDERS = ("google",)


def check_base_url(value: str | None) -> str | None:
    """A pydantic validator for `baseUrl` fields: an http(s) URL without query or fragment."""
    if value is None or value == "":
        return None
    if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
        raise ValueError("must be an http(s) URL without query or fragment, e.g. https://llm.internal/v1")
    return value.rstrip("/")


def check_model(value: str | None) -> str | None:
    """A pydantic validator for model fields: empty means none, else a model name."""
    if value and (not re.match(MODEL_PATTERN, value) or ".." in value):
        raise ValueError(f"must be a model name: {MODEL_RULE}")
    return value


def model_problem(provider: str, model: str) -> str | None:
    """Why `model` cannot be sent to `provider`, or None."""
    if not re.match(MODEL_PATTERN, model) or ".." in model:
        return MODEL_RULE
    if provider in PATH_PROVIDERS and "/" in model:
        return f"a {provider} model name has no `/` (it is part of the request's path)"
    return None


def status_reason(status: int) -> str:
    """A fixed sentence for a provider's HTTP error status (its body is never shown)."""
    if status in (401, 403):
        return "the key was rejected"
    if status == 404:
        return "no such route or model; check baseUrl and model"
    if status == 429:
        return "rate limited"
    if status >= 500:
        return "the provider failed"
    return "the request was refused"


def failure_reason(exc: BaseException) -> str:
    """A fixed sentence for a failed connection (exception text can quote what a server sent)."""
    if isinstance(exc, httpx.ConnectError):
        return "the connection failed or was refused"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError):
        return "what answered does not speak HTTP as expected"
    if isinstance(exc, httpx.InvalidURL | UnicodeEncodeError):
        return "the baseUrl or the key cannot be sent"
    return "the request failed"


def refused_message(what: str, refusal: Refusal) -> str:
    return (
        f"The engine may not call {what} at {refusal.url}: the egress policy refuses that destination "
        f"({refusal.rule}). An engine operator can allow it with ENGINE_EGRESS_ALLOW."
    )


@dataclass(frozen=True)
class KeyCheck:
    ok: bool
    message: str
    code: str | None = None  # why not ok: navigation.blocked, provider.rejected_key, ...


def base_url_for(provider: str, base_url: str | None) -> str | None:
    return (base_url or DEFAULT_BASE_URLS.get(provider) or "").rstrip("/") or None


def models_request(provider: str, api_key: str, base_url: str) -> tuple[str, dict[str, str]]:
    """URL and headers of the provider's model listing, authenticated with `api_key`."""
    if provider == "anthropic":
        return f"{base_url}/models", {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION}
    if provider == "google":
        # The header form keeps the key out of URLs (and so out of any proxy's access log).
        return f"{base_url}/models", {"x-goog-api-key": api_key}
    return f"{base_url}/models", {"Authorization": f"Bearer {api_key}"}


async def check_key(
    provider: str, api_key: str, base_url: str | None, transport: httpx.AsyncBaseTransport | None = None
) -> KeyCheck:
    url_base = base_url_for(provider, base_url)
    if url_base is None:
        return KeyCheck(
            False, "An openai-compatible credential needs a baseUrl to test against.", "request.invalid"
        )
    url, headers = models_request(provider, api_key, url_base)
    try:
        async with httpx.AsyncClient(
            timeout=TEST_TIMEOUT, transport=transport or judged_transport(), follow_redirects=False
        ) as client:
            response = await client.get(url, headers={**headers, "Accept": "application/json"})
    except Refused as exc:
        return KeyCheck(False, refused_message("the provider", exc.refusal), "navigation.blocked")
    except httpx.TimeoutException:
        return KeyCheck(
            False,
            f"The provider at {url_base} did not answer within 10 seconds; try again later.",
            "provider.timeout",
        )
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeEncodeError) as exc:
        return KeyCheck(
            False,
            f"Could not reach the provider at {url_base}: {failure_reason(exc)}. Check baseUrl and the network.",
            "provider.unreachable",
        )
    status = response.status_code
    if status in (401, 403):
        return KeyCheck(False, f"The provider rejected the key (HTTP {status}).", "provider.rejected_key")
    if status == 429:
        return KeyCheck(
            False,
            "The provider accepted the connection but is rate limiting this key (HTTP 429).",
            "provider.rate_limited",
        )
    if status >= 400:
        return KeyCheck(
            False,
            f"The provider answered HTTP {status} to a model listing at {url} ({status_reason(status)}).",
            "provider.error",
        )
    count = _model_count(response)
    if count is None:
        return KeyCheck(
            False,
            f"{url} answered, but not with a model list; is baseUrl right?",
            "provider.not_a_model_list",
        )
    return KeyCheck(True, f"The key works: the provider lists {count} model(s).")


def _model_count(response: httpx.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        for field in ("data", "models"):  # OpenAI/Anthropic use `data`, Google `models`
            if isinstance(body.get(field), list):
                return len(body[field])
    return None
