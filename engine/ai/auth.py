"""Which model, and with which key, an agent call talks to (`config.auth` of the contract).

- `"platform"`: the engine's own credential, from its settings (ENGINE_AI_*); 400
  `agent.platform_credential_missing` when none is configured.
- `{"credential": id}`: a saved credential; the call's effective `ai` mount must allow it
  (403 `auth.forbidden` otherwise), and it must be enabled (409 `ai_credential.disabled`).
- `{"apiKey", "provider", "baseUrl"?}`: inline, used for this call only. The key lives in this
  process's memory while the call runs and nowhere else: not in the operation, not in a trace.
- no `auth`: the mount's `ai.defaults` for `provider` (or its only default); 400
  `agent.no_default_credential` when there is none to pick.

The model is the call's `model`, else the credential's `defaultModel`, else ENGINE_AI_MODEL for
the platform credential; a call that ends with no model is refused (400 `agent.model_required`).
"""

from typing import Any

from django.conf import settings

from engine import crypto
from engine.ai.chat import ModelAuth
from engine.ai.providers import base_url_for, model_problem
from engine.errors import ApiError
from engine.models import AiCredential


async def resolve(
    auth: str | dict[str, Any] | None,
    mounts: dict[str, Any],
    provider: str | None = None,
    model: str | None = None,
) -> ModelAuth:
    if auth == "platform":
        return _platform(model)
    if isinstance(auth, dict) and "credential" in auth:
        return await _saved(auth["credential"], mounts, model, "credential")
    if isinstance(auth, dict) and "apiKey" in auth:
        return _complete(auth["provider"], auth["apiKey"], auth.get("baseUrl"), model, "", "inline")
    defaults: dict[str, str] = ((mounts.get("ai") or {}).get("defaults")) or {}
    if provider is not None:
        credential_id = defaults.get(provider)
    elif len(defaults) == 1:
        credential_id = next(iter(defaults.values()))
    else:
        credential_id = None
    if credential_id is None:
        if provider is None and len(defaults) > 1:
            message = (
                f"The ai mount has defaults for {', '.join(sorted(defaults))}: name one with"
                " config.provider, or pass config.auth."
            )
        else:
            message = (
                'No AI credential to use: pass config.auth ({"credential": id}, "platform" or an'
                " inline key), or set a default in the workspace's mounts.ai.defaults"
                + (f" for {provider}." if provider else ".")
            )
        raise ApiError(400, "agent.no_default_credential", message)
    return await _saved(credential_id, mounts, model, "default")


def _platform(model: str | None) -> ModelAuth:
    if not settings.AI_PROVIDER or not settings.AI_API_KEY:
        raise ApiError(
            400,
            "agent.platform_credential_missing",
            "This engine has no platform AI credential: its operator sets ENGINE_AI_PROVIDER and"
            ' ENGINE_AI_API_KEY (or ENGINE_AI_API_KEY_FILE). Or pass {"credential": id} in config.auth.',
        )
    return _complete(
        settings.AI_PROVIDER,
        settings.AI_API_KEY,
        settings.AI_BASE_URL or None,
        model,
        settings.AI_MODEL,
        "platform",
    )


async def _saved(credential_id: str, mounts: dict[str, Any], model: str | None, how: str) -> ModelAuth:
    allowed = ((mounts.get("ai") or {}).get("allow")) or []
    if credential_id not in allowed:
        raise ApiError(
            403,
            "auth.forbidden",
            f"The runtime's ai mount does not allow AI credential '{credential_id[:64]}';"
            " add it to the workspace's mounts.ai.allow.",
        )
    credential = await AiCredential.objects.filter(id=credential_id).afirst()
    if credential is None:
        raise ApiError(404, "ai_credential.not_found", f"No AI credential '{credential_id[:64]}'.")
    if not credential.enabled:
        raise ApiError(
            409,
            "ai_credential.disabled",
            f"The AI credential '{credential.id}' is disabled; enable it first.",
        )
    api_key = crypto.decrypt(credential.api_key_ciphertext)
    return _complete(
        credential.provider,
        api_key,
        credential.base_url or None,
        model,
        credential.default_model,
        f"{how}:{credential.id}" if how == "default" else f"credential:{credential.id}",
    )


def _complete(
    provider: str, api_key: str, base_url: str | None, model: str | None, default_model: str, source: str
) -> ModelAuth:
    url = base_url_for(provider, base_url)
    if url is None:
        raise ApiError(
            400, "request.invalid", f"An {provider} credential needs a baseUrl to send requests to."
        )
    chosen = model or default_model
    if not chosen:
        raise ApiError(
            400,
            "agent.model_required",
            "No model to ask: pass config.model, or give the credential a defaultModel.",
        )
    problem = model_problem(provider, chosen)
    if problem is not None:
        raise ApiError(400, "request.invalid", f"The model {chosen[:80]!r} cannot be asked: {problem}.")
    return ModelAuth(provider=provider, api_key=api_key, base_url=url, model=chosen, source=source)
