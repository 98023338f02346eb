"""Placeholder until the runtime manager lands (see engine/runtimes/README)."""

from uuid import UUID


class RuntimeManager:
    async def start(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def stop(self, runtime_id: UUID) -> None:
        raise NotImplementedError


manager = RuntimeManager()
