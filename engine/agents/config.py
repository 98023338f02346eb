"""The options of an agent call, checked before any step of its request runs.

`act`, `extract` and `observe` take `options`; the two `*.agent.execute` calls take `config`,
the same fields plus the loop's limits. `prepare` turns them into an `AgentSetup`: the
effective mounts (the runtime's, narrowed by the call's `mounts`, never widened), the resolved
model auth (engine/ai/auth.py) and the vault keys the model may ask to fill.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine import mounts as mount_rules
from engine.ai import auth as ai_auth
from engine.ai.chat import ModelAuth, ModelClient
from engine.ai.providers import (
    API_KEY_PATTERN,
    CREDENTIAL_ID_PATTERN,
    Provider,
    check_base_url,
    check_model,
)
from engine.errors import ApiError
from engine.models import Runtime, VaultEntry

MAX_VAULT_KEYS_SHOWN = 50


class SavedAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: str = Field(pattern=CREDENTIAL_ID_PATTERN)


class InlineAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    apiKey: str = Field(min_length=1, max_length=4096, pattern=API_KEY_PATTERN)
    provider: Provider
    baseUrl: str | None = Field(default=None, max_length=500)

    _url = field_validator("baseUrl")(check_base_url)


class CallOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auth: Literal["platform"] | SavedAuth | InlineAuth | None = None
    provider: Provider | None = Field(
        default=None, description="Which ai.defaults entry to use without auth."
    )
    model: str | None = Field(default=None, min_length=1, max_length=200)
    mounts: mount_rules.Mounts | None = None
    requestTimeoutMs: int | None = Field(default=None, ge=100, le=600_000)
    maxRetries: int | None = Field(default=None, ge=0, le=5)

    _model = field_validator("model")(check_model)


class AgentConfig(CallOptions):
    maxSteps: int = Field(default=20, ge=1, le=100)
    timeoutMs: int = Field(default=600_000, ge=1_000, le=3_600_000, description="The whole run's limit.")


@dataclass
class AgentSetup:
    auth: ModelAuth
    mounts: dict[str, Any]
    options: CallOptions
    vault_keys: list[str] = field(default_factory=list)

    def client(self) -> ModelClient:
        timeout = (
            self.options.requestTimeoutMs / 1000
            if self.options.requestTimeoutMs
            else settings.AI_TIMEOUT_SECONDS
        )
        retries = self.options.maxRetries if self.options.maxRetries is not None else settings.AI_MAX_RETRIES
        return ModelClient(self.auth, timeout=timeout, max_retries=retries)


async def prepare(
    runtime: Runtime, raw: Any, arg_index: int, schema: type[CallOptions] = CallOptions
) -> AgentSetup:
    try:
        options = schema.model_validate(raw or {})
    except ValidationError as exc:
        fields = [
            {
                "path": ".".join(["args", str(arg_index), *(str(p) for p in error["loc"])]),
                "message": error["msg"],
            }
            for error in exc.errors(include_input=False)
        ]
        raise ApiError(
            400,
            "request.invalid",
            "The agent call's options are not valid: "
            + "; ".join(f"{f['path']}: {f['message']}" for f in fields[:5]),
            {"fields": fields},
        ) from None
    effective = mount_rules.narrow(runtime.mounts or {}, mount_rules.dump(options.mounts))
    auth = options.auth.model_dump() if isinstance(options.auth, BaseModel) else options.auth
    model_auth = await ai_auth.resolve(auth, effective, options.provider, options.model)
    return AgentSetup(model_auth, effective, options, await _vault_keys(effective))


async def _vault_keys(mounts: dict[str, Any]) -> list[str]:
    """The vault keys this call may fill: shown to the model so it can name one (never a value)."""
    allow = (mounts.get("vault") or {}).get("allow") or []
    if not allow:
        return []
    keys = []
    async for key in VaultEntry.objects.order_by("key").values_list("key", flat=True):
        if mount_rules.vault_allowed(mounts, key):
            keys.append(key)
            if len(keys) >= MAX_VAULT_KEYS_SHOWN:
                break
    return keys


def public_args(args: list[Any], config_index: int) -> list[Any]:
    """A call's args as an operation keeps them: an inline key is replaced by where it came from."""
    out = list(args)
    if len(out) > config_index and isinstance(out[config_index], dict):
        config = dict(out[config_index])
        auth = config.get("auth")
        if isinstance(auth, dict) and "apiKey" in auth:
            config["auth"] = {
                "inline": True,
                "provider": auth.get("provider"),
                "baseUrl": auth.get("baseUrl"),
            }
        out[config_index] = config
    return out
