"""Output calls: screenshots and PDFs, stored as artifacts in the runtime's storage namespace.

Artifacts are made by `engine.storage.artifacts.create_artifact` (the bytes land in the
runtime's storage namespace); results carry the artifact, never the bytes.
"""

import re
from datetime import UTC, datetime
from typing import Any

from engine import wire
from engine.runtimes.seal import SECRET_ATTRIBUTE
from engine.steps.registry import Arg, StepContext, StepError, step
from engine.storage.artifacts import create_artifact

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _name(options: dict[str, Any] | None, kind: str, extension: str) -> str:
    name = (options or {}).get("name")
    if name is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        return f"{kind}-{stamp}.{extension}"
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise StepError(
            "step.invalid_args", "name must be a file name: letters, digits, . _ - (1-201 characters)."
        )
    return name if name.endswith(f".{extension}") else f"{name}.{extension}"


async def _output(
    ctx: StepContext, kind: str, name: str, content: bytes, content_type: str
) -> dict[str, Any]:
    artifact = await create_artifact(
        runtime=ctx.runtime,
        kind=kind,
        name=name,
        content=content,
        content_type=content_type,
        operation_id=ctx.operation_id,
    )
    return {
        "name": name,
        "contentType": content_type,
        "sizeBytes": len(content),
        "artifact": wire.jsonable(wire.artifact(artifact)),
    }


@step(
    "page.screenshot",
    args=[Arg("options", "object", required=False, description="{fullPage?, name?}")],
    result="{artifact, name, contentType, sizeBytes}",
    description="Take a PNG screenshot and store it as an artifact (fields a vault secret was filled into masked).",
    page_data="masked",
)
async def screenshot(ctx: StepContext, options: dict[str, Any] | None = None) -> dict[str, Any]:
    full_page = (options or {}).get("fullPage", False)
    if not isinstance(full_page, bool):
        raise StepError("step.invalid_args", "fullPage must be true or false.")
    name = _name(options, "screenshot", "png")
    page = ctx.page
    # Fields a vault secret was typed into are painted over (use without read: seal.py).
    filled = [page.locator(selector) for selector in await ctx.session.seal.masks(page)]
    masks = [*filled, page.locator(f"[{SECRET_ATTRIBUTE}]")]
    content = await page.screenshot(full_page=full_page, type="png", timeout=ctx.timeout_ms, mask=masks)
    return await _output(ctx, "screenshot", name, content, "image/png")


@step(
    "page.pdf",
    args=[Arg("options", "object", required=False, description="{name?}")],
    result="{artifact, name, contentType, sizeBytes}",
    description="Print the page to PDF and store it as an artifact.",
)
async def pdf(ctx: StepContext, options: dict[str, Any] | None = None) -> dict[str, Any]:
    name = _name(options, "page", "pdf")
    content = await ctx.page.pdf()
    return await _output(ctx, "pdf", name, content, "application/pdf")
