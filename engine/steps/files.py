"""Execute calls on the runtime's storage namespace: write a text object, upload a file to a page."""

import tempfile
from pathlib import Path

from asgiref.sync import sync_to_async

from engine import paths, wire
from engine.errors import ApiError
from engine.steps.registry import Arg, StepContext, StepError, step
from engine.storage import objects as store


@step(
    "storage.put",
    args=[Arg("path", "string"), Arg("text", "string")],
    result="Object",
    ref=None,
    description="Write text (UTF-8) to a path in the runtime's storage namespace.",
    page_data="none",
)
async def put(ctx: StepContext, path: str, text: str) -> dict[str, object]:
    row = await store.put_object(
        ctx.storage_namespace,
        path,
        text.encode(),
        "text/plain; charset=utf-8",
        source="execute",
        runtime_id=ctx.runtime.id,
    )
    return wire.jsonable(wire.storage_object(row))


def _write_temp(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=directory, prefix="upload-"))
    # Chromium reads it as the runtime's own uid; only that runtime's view of the files holds it.
    folder.chmod(0o755)
    # The page sees the file name; keep the object's own name rather than a temp name.
    target = folder / name
    target.write_bytes(data)
    target.chmod(0o644)
    return target


@step(
    "page.setInputFiles",
    args=[Arg("selector", "string"), Arg("storagePath", "string|array")],
    result="{files: [{path, sizeBytes}]}",
    description="Put storage objects (from the runtime's namespace) into a file input.",
    page_data="none",
)
async def set_input_files(
    ctx: StepContext, selector: str, storage_path: str | list[str]
) -> dict[str, object]:
    wanted = [storage_path] if isinstance(storage_path, str) else storage_path
    if not wanted or not all(isinstance(p, str) for p in wanted) or len(wanted) > 20:
        raise StepError("step.invalid_args", "storagePath must be a path or a list of 1-20 paths.")
    rows = []
    for path in wanted:
        try:
            rows.append(await store.get_object(ctx.storage_namespace, path))
        except ApiError as exc:
            raise StepError(exc.code, exc.message) from exc
    # The files stay in the runtime's scratch dir until the runtime ends (the manager removes
    # it): Chromium reads an input's file when the page submits or reads it, not when it is set.
    scratch = paths.runtime_scratch_dir(ctx.runtime.id) / "uploads"
    written: list[Path] = []
    for row in rows:
        data = await store.read_blob(row)
        written.append(await sync_to_async(_write_temp)(scratch, row.path.rsplit("/", 1)[-1], data))
    await ctx.page.set_input_files(selector, [str(p) for p in written], timeout=ctx.timeout_ms)
    return {"files": [{"path": row.path, "sizeBytes": row.size_bytes} for row in rows]}
