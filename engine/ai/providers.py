"""Provider wire details and the cheap "does this key work" check behind `POST .../test`.

The check lists the provider's models: it is free, needs only a valid key, and every provider
has it. Messages never contain the key (the key is also redacted from error text, in case a
provider or a proxy echoes it back).
"""

import re
from dataclasses import dataclass
from typing import Literal

import httpx

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


def check_base_url(value: str | None) -> str | None:
    """A pydantic validator for `baseUrl` fields: an http(s) URL without query or fragment."""
    if value is None or value == "":
        return None
    if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
        raise ValueError("must be an http(s) URL without query or fragment, e.g. https://llm.internal/v1")
    return value.rstrip("/")


@dataclass(frozen=True)
class KeyCheck:
    ok: bool
    message: str


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
        return KeyCheck(False, "An openai-compatible credential needs a baseUrl to test against.")
    url, headers = models_request(provider, api_key, url_base)
    try:
        async with httpx.AsyncClient(
            timeout=TEST_TIMEOUT, transport=transport, follow_redirects=False
        ) as client:
            response = await client.get(url, headers={**headers, "Accept": "application/json"})
    except httpx.TimeoutException:
        return KeyCheck(
            False, f"The provider at {url_base} did not answer within 10 seconds; try again later."
        )
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeEncodeError) as exc:
        # InvalidURL and UnicodeEncodeError: a baseUrl or key that cannot go on the wire at all
        reason = _redact(str(exc) or type(exc).__name__, api_key)
        return KeyCheck(
            False, f"Could not reach the provider at {url_base}: {reason}. Check baseUrl and the network."
        )
    if response.status_code in (401, 403):
        return KeyCheck(False, f"The provider rejected the key (HTTP {response.status_code}).")
    if response.status_code == 429:
        return KeyCheck(
            False, "The provider accepted the connection but is rate limiting this key (HTTP 429)."
        )
    if response.status_code >= 400:
        return KeyCheck(
            False, f"The provider answered HTTP {response.status_code} to a model listing at {url}."
        )
    count = _model_count(response)
    if count is None:
        return KeyCheck(False, f"{url} answered, but not with a model list; is baseUrl right?")
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


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[key]") if secret else text
